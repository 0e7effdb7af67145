"""Helpers for end-to-end tests: a seeded tenant, and runs of the packaged input as splunkd starts it."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.standins.alerts_factory import AlertFactory
from tests.standins.launcher import RunResult, StandinStack
from tests.standins.microsoft import Tenant

ACCOUNT = "contoso"
SECRET = "s3cr3t-Value~never-logged"
CHECKPOINTS = "ta_defender_endpoint_alerts_checkpoints"
DAY = 86_400


def iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


@dataclass
class Scenario:
    """One tenant in the Microsoft stand-in, its account in the splunkd stand-in, and runs of one input."""

    stack: StandinStack
    app_dir: Path
    python: str
    work: Path
    tenant: Tenant | None = None
    client_id: str = ""
    factory: AlertFactory = field(default_factory=lambda: AlertFactory(seed=7))
    runs: list[RunResult] = field(default_factory=list)

    def add_tenant(
        self,
        *,
        geo: str = "us",
        roles: tuple[str, ...] = ("Alert.Read.All",),
        consented: bool = True,
        secret: str = SECRET,
        account_secret: str = SECRET,
        cloud: str = "commercial",
    ) -> Tenant:
        ms = self.stack.microsoft
        self.tenant = ms.add_tenant(geo=geo)
        app = ms.add_app(self.tenant.tenant_id, secret=secret, roles=roles, consented=consented)
        self.client_id = app.client_id
        self.factory = AlertFactory(seed=7, tenant_id=self.tenant.tenant_id)
        assert self.stack.splunkd is not None
        self.stack.splunkd.seed_account(
            ACCOUNT, self.tenant.tenant_id, app.client_id, cloud, client_secret=account_secret
        )
        self.stack.splunkd.seed_settings(loglevel="INFO")
        return self.tenant

    def add_alerts(self, n: int, *, days_back: float = 3, newest_seconds_ago: float = 60) -> list[dict[str, Any]]:
        now = time.time()
        alerts = self.factory.alerts(n, start=iso(now - days_back * DAY), end=iso(now - newest_seconds_ago))
        assert self.tenant is not None
        self.stack.microsoft.add_alerts(self.tenant.tenant_id, alerts)
        return alerts

    def params(self, **overrides: Any) -> dict[str, Any]:
        params: dict[str, Any] = {"account": ACCOUNT, "index": "mde", "start": "7", "interval": "300"}
        params.update(overrides)
        return params

    def run(self, name: str = "prod", timeout: float = 300, **overrides: Any) -> RunResult:
        result = self.stack.run_modinput(
            self.app_dir,
            {name: self.params(**overrides)},
            python=self.python,
            checkpoint_dir=self.work / "checkpoints",
            splunk_home=self.work / "splunk",
            timeout=timeout,
        )
        self.runs.append(result)
        assert not result.timed_out, f"the input did not finish within {timeout}s"
        assert (
            result.dns_refused == []
        ), f"the input asked for hosts outside Microsoft's documented list: {result.dns_refused}"
        return result

    def run_async(self, name: str = "prod", **overrides: Any) -> Any:
        return self.stack.run_modinput_async(
            self.app_dir,
            {name: self.params(**overrides)},
            python=self.python,
            checkpoint_dir=self.work / "checkpoints",
            splunk_home=self.work / "splunk",
        )

    def log(self, name: str = "prod") -> str:
        path = self.work / "splunk" / "var" / "log" / "splunk" / f"ta-defender-endpoint-alerts_{name}.log"
        return path.read_text() if path.exists() else ""

    def api_calls(self) -> int:
        return self.stack.microsoft.count("api")

    def checkpoint(self, name: str = "prod") -> dict[str, Any] | None:
        assert self.stack.splunkd is not None
        document = self.stack.splunkd.kv_documents(CHECKPOINTS).get(name)
        return None if document is None else dict(json.loads(document["state"]))


def alert_ids(result: RunResult) -> list[tuple[str, str]]:
    """(id, lastUpdateTime) of every event the run wrote, in order."""
    states = []
    for event in result.events:
        alert = json.loads(event["data"])
        states.append((alert["id"], alert["lastUpdateTime"]))
    return states
