"""Helpers for the response action tests: a tenant with devices, users and alerts, and sendalert runs."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e.harness import ACCOUNT, SECRET, iso
from tests.standins.alerts_factory import AlertFactory
from tests.standins.launcher import StandinStack
from tests.standins.microsoft import Tenant
from tests.standins.sendalert import ActionRun, run_action

ALL_ROLES = (
    "Alert.Read.All",
    "Alert.ReadWrite.All",
    "Machine.Read.All",
    "Machine.Isolate",
    "Machine.Scan",
    "Machine.RestrictExecution",
    "Machine.CollectForensics",
    "User.Read.All",
    "User.EnableDisableAccount.All",
    "User.RevokeSessions.All",
)


@dataclass
class ResponseScenario:
    stack: StandinStack
    app_dir: Path
    python: str
    work: Path
    tenants: dict[str, Tenant] = field(default_factory=dict)
    runs: list[ActionRun] = field(default_factory=list)

    def add_tenant(
        self, account: str = ACCOUNT, *, roles: tuple[str, ...] = ALL_ROLES, domain: str | None = None
    ) -> Tenant:
        ms = self.stack.microsoft
        tenant = ms.add_tenant(domain=domain)
        app = ms.add_app(tenant.tenant_id, secret=SECRET, roles=roles)
        assert self.stack.splunkd is not None
        self.stack.splunkd.seed_account(account, domain or tenant.tenant_id, app.client_id, client_secret=SECRET)
        if not self.tenants:
            self.stack.splunkd.seed_settings(loglevel="INFO")
            self.stack.splunkd.seed_stanza(
                "ta_defender_endpoint_alerts_settings", "response", {"audit_index": "cim_modactions"}
            )
        self.tenants[account] = tenant
        return tenant

    def alerts(self, account: str, n: int, **fields: Any) -> list[dict[str, Any]]:
        tenant = self.tenants[account]
        now = time.time()
        made = AlertFactory(seed=11, tenant_id=tenant.tenant_id).alerts(n, start=iso(now - 3600), end=iso(now - 60))
        for alert in made:
            alert.update(fields)
        self.stack.microsoft.add_alerts(tenant.tenant_id, made)
        return made

    def send(
        self,
        action: str,
        rows: list[dict[str, Any]],
        session_key: str | None = None,
        home: str = "splunk",
        **config: Any,
    ) -> ActionRun:
        """`home`: a SPLUNK_HOME of its own, so runs side by side each read only their own stash files."""
        run = run_action(
            self.stack,
            self.app_dir,
            action,
            rows,
            config,
            splunk_home=self.work / home,
            python=self.python,
            session_key=session_key,
        )
        self.runs.append(run)
        assert self.stack.splunkd is not None
        unknown = [(r.method, r.path) for r in self.stack.splunkd.unknown_requests]
        assert unknown == [], f"the action asked splunkd for what the stand-in does not model: {unknown}"
        return run

    def calls(self, kind: str = "api", **match: Any) -> int:
        return self.stack.microsoft.count(kind, **match)
