"""A new user's first hour, end to end: account and input made in the browser, then the input runs.

The account is checked against the Microsoft stand-in's tenant when saved; the input is
stored through data/inputs; then the stored input runs exactly as splunkd would start
it (the modular-input protocol: stdin XML, event stream out) and its events are read.
"""

from __future__ import annotations

import json
import time

from tests.standins.alerts_factory import AlertFactory
from tests.ui.conftest import Session
from tests.ui.test_accounts import fill_account, open_add_dialog, row, submit
from tests.ui.test_inputs import open_create_dialog

SECRET = "first-hour~Secret-Value"
ALERTS = 25
DAY = 86_400


def test_an_account_and_an_input_made_in_the_browser_collect_alerts(session: Session) -> None:
    session.secrets.append(SECRET)
    ms = session.ui.stack.microsoft
    tenant = ms.add_tenant(domain="contoso.onmicrosoft.com", geo="eu")
    app = ms.add_app(tenant.tenant_id, secret=SECRET)
    now = time.time()
    start, end = (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)) for t in (now - 2 * DAY, now - 60))
    ms.add_alerts(
        tenant.tenant_id, AlertFactory(seed=11, tenant_id=tenant.tenant_id).alerts(ALERTS, start=start, end=end)
    )

    dialog = open_add_dialog(session)
    fill_account(dialog, "contoso", "contoso.onmicrosoft.com", app.client_id, SECRET, "commercial_eu")
    submit(dialog)
    row(session, "contoso").wait_for()

    create = open_create_dialog(session)
    create.fill("name", "contoso_alerts")
    create.pick("account", "contoso")
    create.pick("index", "mde")
    create.root.get_by_role("button", name="Add", exact=True).click()
    create.root.wait_for(state="detached")

    result = session.ui.run_input("contoso_alerts")
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(result.events) == ALERTS
    first = result.events[0]
    assert first["index"] == "mde" and first["sourcetype"] == "ms:defender:atp:alerts"
    assert first["source"].endswith("/contoso_alerts")
    assert json.loads(first["data"])["aadTenantId"] == tenant.tenant_id
    assert SECRET not in result.stdout + result.stderr
