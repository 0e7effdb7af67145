"""Test connectivity on save: each misconfiguration gets one sentence that names its fix.

`check_account` is what the account REST handler runs before storing anything (the
handler itself needs splunkd's `splunk.admin` module, which only exists inside Splunk).
It runs here against the Microsoft stand-in over real HTTPS at Microsoft's hostnames.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from mde_alerts.clouds import cloud_for
from mde_alerts.connectivity import check_account
from mde_alerts.defender_api import ConfigError, Connection, Credential
from mde_alerts.splunk_config import Account
from tests.standins.hostmap.sitecustomize import install
from tests.standins.microsoft import ALL_HOSTS, MicrosoftStandin, Tenant
from tests.standins.tls import TlsPaths, make_app_certificate, make_tls_material

SECRET = "correct-horse-battery-staple"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsPaths:
    return make_tls_material(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def microsoft(tls: TlsPaths, monkeypatch: pytest.MonkeyPatch) -> Iterator[MicrosoftStandin]:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    standin = MicrosoftStandin(str(tls.cert), str(tls.key)).start()
    undo = install({host: f"127.0.0.1:{standin.port}" for host in ALL_HOSTS})
    try:
        yield standin
    finally:
        undo()
        standin.stop()


def account(tenant: Tenant | str, client_id: str, *, cloud: str = "commercial", secret: str = SECRET) -> Account:
    tenant_id = tenant if isinstance(tenant, str) else tenant.tenant_id
    return Account("contoso", tenant_id, cloud_for(cloud), Credential(client_id, client_secret=secret))


def check(tls: TlsPaths, acct: Account, proxy: str | None = None) -> str:
    try:
        check_account(acct, Connection(proxy_url=proxy, ca_bundle=str(tls.ca)))
    except ConfigError as error:
        return str(error)
    return "ok"


def test_a_good_account_passes(microsoft: MicrosoftStandin, tls: TlsPaths) -> None:
    tenant = microsoft.add_tenant()
    app = microsoft.add_app(tenant.tenant_id, secret=SECRET)
    assert check(tls, account(tenant, app.client_id)) == "ok"
    assert microsoft.count("api", status=200) == 1


def test_a_certificate_credential_passes(microsoft: MicrosoftStandin, tls: TlsPaths) -> None:
    tenant = microsoft.add_tenant(domain="contoso.onmicrosoft.com")
    certificate = make_app_certificate()
    app = microsoft.add_app(tenant.tenant_id, certificate_pem=certificate.certificate_pem)
    credential = Credential(
        app.client_id, private_key=certificate.private_key_pem, thumbprint=certificate.sha1_thumbprint
    )
    acct = Account("contoso", "contoso.onmicrosoft.com", cloud_for("commercial"), credential)
    check_account(acct, Connection(ca_bundle=str(tls.ca)))


@pytest.mark.parametrize(
    "case, fix",
    [
        ("unknown tenant", "was not found at https://login.microsoftonline.com: check the Tenant ID"),
        ("unknown client", "AADSTS700016"),
        ("wrong secret", "paste the secret's Value"),
        ("expired secret", "create a new secret"),
        ("no consent", "grant admin consent"),
        ("no permission", "Alert.Read.All"),
        ("wrong cloud", "another national cloud"),
        ("wrong geo", "cloud/region is probably wrong"),
    ],
)
def test_each_misconfiguration_names_its_fix(microsoft: MicrosoftStandin, tls: TlsPaths, case: str, fix: str) -> None:
    tenant = microsoft.add_tenant(cloud="gcc_high" if case == "wrong cloud" else "commercial", geo="us")
    app = microsoft.add_app(
        tenant.tenant_id,
        secret=SECRET,
        secret_expired=case == "expired secret",
        consented=case != "no consent",
        roles=() if case == "no permission" else ("Alert.Read.All",),
    )
    acct = {
        "unknown tenant": account("3f2504e0-4f89-11d3-9a0c-0305e82c3301", app.client_id),
        "unknown client": account(tenant, "5d3b5c1e-0000-4000-8000-000000000000"),
        "wrong secret": account(tenant, app.client_id, secret="not-it"),
        "wrong geo": account(tenant, app.client_id, cloud="commercial_eu"),
        "wrong cloud": account(tenant, app.client_id, cloud="commercial"),
    }.get(case, account(tenant, app.client_id))
    message = check(tls, acct)
    assert fix in message, message
    assert SECRET not in message


def test_an_unreachable_proxy_is_named(microsoft: MicrosoftStandin, tls: TlsPaths) -> None:
    tenant = microsoft.add_tenant()
    app = microsoft.add_app(tenant.tenant_id, secret=SECRET)
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    message = check(tls, account(tenant, app.client_id), proxy=f"http://user:proxy-pw@127.0.0.1:{port}")
    assert "proxy could not be reached" in message
    assert "proxy-pw" not in message


def test_tls_interception_without_the_ca_is_explained(microsoft: MicrosoftStandin, tmp_path: Path) -> None:
    tenant = microsoft.add_tenant()
    app = microsoft.add_app(tenant.tenant_id, secret=SECRET)
    other_ca = make_tls_material(tmp_path / "other").ca  # a CA that did not sign the server's certificate
    with pytest.raises(ConfigError, match="CA bundle path"):
        check_account(account(tenant, app.client_id), Connection(ca_bundle=str(other_ca)))
