"""Inputs in a real browser: the add-on's input handler, splunkd's data/inputs and validation.

Creating or editing an input goes through the generated input handler and
``InputHandler`` to ``data/inputs/defender_endpoint_alerts`` of the splunkd stand-in,
which runs the packaged input's ``--validate-arguments`` first, as splunkd does.
"""

from __future__ import annotations

import re
import time
from typing import Callable

import pytest

from tests.standins.alerts_factory import AlertFactory
from tests.standins.ui_stack import KV_CHECKPOINTS
from tests.ui.browser import Form, screenshot
from tests.ui.conftest import Session

SECRET = "seeded-secret-Value"
INPUTS_API = r"/ta_defender_endpoint_alerts_defender_endpoint_alerts(\?|$)"
DAY = 86_400


def seed_account(s: Session, alerts: int = 0) -> str:
    """An account as the Accounts tab stores it (proven there), with a tenant holding *alerts*."""
    ms = s.ui.stack.microsoft
    tenant = ms.add_tenant()
    app = ms.add_app(tenant.tenant_id, secret=SECRET)
    if alerts:
        now = time.time()
        start, end = (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)) for t in (now - 3 * DAY, now - 60))
        ms.add_alerts(
            tenant.tenant_id, AlertFactory(seed=3, tenant_id=tenant.tenant_id).alerts(alerts, start=start, end=end)
        )
    s.ui.splunkd.seed_account("contoso", tenant.tenant_id, app.client_id, client_secret=SECRET)
    return tenant.tenant_id


def open_create_dialog(s: Session) -> Form:
    s.open("inputs")
    s.page.get_by_role("button", name="Create New Input").click()
    dialog = Form(s.page.get_by_role("dialog"))
    dialog.field("interval").wait_for()
    return dialog


def create_input(s: Session, name: str, **values: str) -> Form:
    dialog = open_create_dialog(s)
    dialog.fill("name", name)
    dialog.pick("account", "contoso")
    for field, value in values.items():
        dialog.fill(field, value)
    dialog.root.get_by_role("button", name="Add", exact=True).click()
    return dialog


def test_an_input_with_the_defaults_is_stored_as_the_form_shows_them(session: Session) -> None:
    seed_account(session)
    dialog = open_create_dialog(session)
    assert dialog.value("interval") == "300" and dialog.value("start") == "7"
    dialog.fill("name", "contoso_alerts")
    dialog.pick("account", "contoso")
    screenshot(session.page, session.shots, "create-input", (SECRET,))
    dialog.root.get_by_role("button", name="Add", exact=True).click()
    dialog.root.wait_for(state="detached")
    session.page.get_by_role("row").filter(has_text="contoso_alerts").wait_for()
    stored = session.ui.input_stanza("contoso_alerts")
    assert stored is not None
    assert {k: stored[k] for k in ("account", "index", "interval", "start", "time_field", "checkpoint_store")} == {
        "account": "contoso",
        "index": "default",
        "interval": "300",
        "start": "7",
        "time_field": "lastUpdateTime",
        "checkpoint_store": "kvstore",
    }
    assert stored["include_evidence"] in ("1", "true") and stored["page_size"] == "10000"
    screenshot(session.page, session.shots, "inputs-list", (SECRET,))


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("interval", "30", "60"),
        ("page_size", "20000", "Page size must be a whole number from 100 to 10000."),
    ],
)
def test_the_forms_validators_refuse_a_bad_value_at_the_field(
    session: Session, field: str, value: str, message: str
) -> None:
    seed_account(session)
    dialog = open_create_dialog(session)
    dialog.fill("name", "bad")
    dialog.pick("account", "contoso")
    if field == "page_size":
        dialog.root.get_by_text("Advanced").click()
    dialog.fill(field, value)
    dialog.root.get_by_role("button", name="Add", exact=True).click()
    assert message in dialog.message()
    assert session.ui.input_stanza("bad") is None


@pytest.mark.parametrize(
    "start, message",
    [("400", "outside 1 to 180"), (time.strftime("%Y-%m-%d", time.gmtime(time.time() + 10 * DAY)), "in the future")],
)
def test_the_inputs_own_validation_refuses_a_bad_start(session: Session, start: str, message: str) -> None:
    seed_account(session)
    session.watch.expect("POST", INPUTS_API, 500)  # the validation's refusal, as splunkd wraps it
    dialog = create_input(session, "bad", start=start)
    shown = dialog.message()
    assert message in shown and "REST Error" not in shown, shown
    assert session.ui.input_stanza("bad") is None


def test_the_advanced_group_holds_checkpoint_store_and_page_size(session: Session) -> None:
    seed_account(session)
    dialog = open_create_dialog(session)
    assert not dialog.visible("page_size") and not dialog.visible("checkpoint_store")
    dialog.root.get_by_text("Advanced").click()
    assert dialog.visible("page_size") and dialog.visible("checkpoint_store")
    dialog.fill("name", "filed")
    dialog.pick("account", "contoso")
    dialog.pick("checkpoint_store", "File in splunkd's checkpoint directory")
    dialog.fill("page_size", "500")
    dialog.root.get_by_role("button", name="Add", exact=True).click()
    dialog.root.wait_for(state="detached")
    stored = session.ui.input_stanza("filed")
    assert stored is not None and stored["checkpoint_store"] == "file" and stored["page_size"] == "500"


def test_disable_enable_and_delete_an_input_and_its_checkpoint(session: Session) -> None:
    seed_account(session, alerts=5)
    create_input(session, "contoso_alerts").root.wait_for(state="detached")
    assert len(session.ui.run_input("contoso_alerts").events) == 5
    assert "contoso_alerts" in session.ui.splunkd.kv_documents(KV_CHECKPOINTS)
    row = session.page.get_by_role("row").filter(has_text="contoso_alerts")
    toggle = row.get_by_role("switch")
    toggle.click()
    _wait(lambda: (session.ui.input_stanza("contoso_alerts") or {}).get("disabled") == "1")
    row.locator("[data-test=status]", has_text=re.compile(r"^Inactive$")).wait_for()  # the page took the answer first
    toggle.click()
    _wait(lambda: (session.ui.input_stanza("contoso_alerts") or {}).get("disabled") == "0")
    row.locator("[data-test=status]", has_text=re.compile(r"^Active$")).wait_for()
    row.get_by_role("button", name="Delete").click()
    session.page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    _wait(lambda: session.ui.input_stanza("contoso_alerts") is None)
    row.wait_for(state="detached")
    assert "contoso_alerts" not in session.ui.splunkd.kv_documents(KV_CHECKPOINTS)


def _wait(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("the page's change never reached splunkd")
