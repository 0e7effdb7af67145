"""The account REST handler: nothing is saved when the connectivity check fails.

splunkd runs UCC's REST handlers inside its own Python with its private `splunk.admin`
module, which cannot run here. The shim in tests/standins/admin_shim provides the few
names splunktaucclib imports from it; the handler under test, splunktaucclib, solnlib, the
settings read from the splunkd stand-in and the check against the Microsoft stand-in
(over HTTPS at Microsoft's hostnames, trusting the CA set on the TLS tab) are all real.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.standins.hostmap.sitecustomize import install
from tests.standins.launcher import StandinStack
from tests.standins.microsoft import ALL_HOSTS
from tests.standins.splunkd_handlers import ADMIN_SHIM

SECRET = "the-right-secret"


def splunk_admin_standin() -> None:
    """`splunk.admin` and `splunk.RESTException` as far as splunktaucclib uses them (the shared shim)."""
    if str(ADMIN_SHIM) not in sys.path:
        sys.path.insert(0, str(ADMIN_SHIM))
    import splunk.admin  # noqa: F401 (the shim: tests/standins/admin_shim)

    sys.modules.setdefault("import_declare_test", types.ModuleType("import_declare_test"))


@dataclass
class StoredAccounts:
    """What UCC's RestHandler would store: the calls the base handler makes on it."""

    stored: dict[str, dict[str, Any]] = field(default_factory=dict)

    def create(self, name: str, payload: dict[str, Any]) -> list[Any]:
        self.stored[name] = dict(payload)
        return []

    def update(self, name: str, payload: dict[str, Any]) -> list[Any]:
        self.stored[name].update(payload)
        return []

    def get(self, name: str, decrypt: bool = False) -> list[Any]:
        return [types.SimpleNamespace(content=dict(self.stored[name]))]

    def get_endpoint(self) -> None:
        return None


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StandinStack]:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    with StandinStack(tmp_path / "stack") as started:
        assert started.splunkd is not None
        started.splunkd.seed_settings(ca_bundle_path=str(started.tls.ca))  # the TLS tab's CA bundle
        monkeypatch.setenv("SPLUNKD_URI", started.server_uri)
        undo = install({host: f"127.0.0.1:{started.microsoft.port}" for host in ALL_HOSTS})
        try:
            yield started
        finally:
            undo()


def handler_for(stack: StandinStack, name: str, payload: dict[str, str], accounts: StoredAccounts) -> Any:
    splunk_admin_standin()
    from mde_account_handler import AccountHandler

    handler = object.__new__(AccountHandler)  # splunkd constructs it from its request; we set what it would
    handler._session_key = stack.session_key
    handler.callerArgs = types.SimpleNamespace(id=name, data={k: [v] for k, v in payload.items()})
    handler.payload = dict(payload)
    handler.handler = accounts
    return handler


def form(tenant_id: str, client_id: str, secret: str) -> dict[str, str]:
    return {
        "tenant_id": tenant_id,
        "client_id": client_id,
        "cloud": "commercial",
        "auth_type": "client_secret",
        "client_secret": secret,
    }


def test_a_working_account_is_saved(stack: StandinStack) -> None:
    tenant = stack.microsoft.add_tenant()
    app = stack.microsoft.add_app(tenant.tenant_id, secret=SECRET)
    accounts = StoredAccounts()
    handler_for(stack, "contoso", form(tenant.tenant_id, app.client_id, SECRET), accounts).handleCreate({})
    assert accounts.stored["contoso"]["client_id"] == app.client_id
    assert stack.microsoft.count("api", status=200) == 1


def test_a_wrong_secret_is_refused_and_nothing_is_saved(stack: StandinStack) -> None:
    from splunktaucclib.rest_handler.error import RestError

    tenant = stack.microsoft.add_tenant()
    app = stack.microsoft.add_app(tenant.tenant_id, secret=SECRET)
    accounts = StoredAccounts()
    handler = handler_for(stack, "contoso", form(tenant.tenant_id, app.client_id, "wrong"), accounts)
    with pytest.raises(RestError) as refused:
        handler.handleCreate({})
    assert refused.value.status == 400
    assert "Not saved" in refused.value.message and "paste the secret's Value" in refused.value.message
    assert accounts.stored == {}


def test_editing_without_retyping_the_secret_checks_the_stored_one(stack: StandinStack) -> None:
    tenant = stack.microsoft.add_tenant()
    app = stack.microsoft.add_app(tenant.tenant_id, secret=SECRET)
    accounts = StoredAccounts({"contoso": form(tenant.tenant_id, "old-client", SECRET)})
    edited = form(tenant.tenant_id, app.client_id, "******")  # the form's placeholder for an unchanged secret
    handler_for(stack, "contoso", edited, accounts).handleEdit({})
    assert accounts.stored["contoso"]["client_id"] == app.client_id
    assert stack.microsoft.count("token", status=200) == 1


def test_editing_when_the_form_leaves_the_unchanged_secret_out(stack: StandinStack) -> None:
    """UCC's form does not send an encrypted field the admin did not retype (FACTS.md §10)."""
    tenant = stack.microsoft.add_tenant()
    app = stack.microsoft.add_app(tenant.tenant_id, secret=SECRET)
    accounts = StoredAccounts({"contoso": form(tenant.tenant_id, app.client_id, SECRET)})
    edited = form(tenant.tenant_id, app.client_id, "")
    del edited["client_secret"]
    edited["cloud"] = "commercial_us"
    handler_for(stack, "contoso", edited, accounts).handleEdit({})
    assert accounts.stored["contoso"]["cloud"] == "commercial_us"
    assert stack.microsoft.count("token", status=200) == 1
