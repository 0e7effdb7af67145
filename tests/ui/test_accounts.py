"""Configuration > Accounts in a real browser: the add-on's account handler behind the form.

Every save goes through the generated account handler and ``AccountHandler``: a token
and one alert from the Microsoft stand-in, then the stanza in ``configs/conf-...`` and
the secret in ``storage/passwords`` of the splunkd stand-in.
"""

from __future__ import annotations

from typing import Any

from tests.standins.splunkd import ACCOUNT_CONF, credential_realm
from tests.standins.tls import make_app_certificate
from tests.ui.browser import Form, screenshot
from tests.ui.conftest import Session

SECRET = "Typed-in-the-browser~s3cret"
ACCOUNTS_API = r"/ta_defender_endpoint_alerts_account(\?|$)"
# The form's label for each cloud, and the Microsoft stand-in's (cloud, geo) that answers there.
CLOUDS = {
    "commercial": ("Commercial (global)", "commercial", "us"),
    "commercial_us": ("Commercial, US geo", "commercial", "us"),
    "commercial_eu": ("Commercial, EU geo", "commercial", "eu"),
    "commercial_uk": ("Commercial, UK geo", "commercial", "uk"),
    "commercial_au": ("Commercial, Australia geo", "commercial", "au"),
    "commercial_swa": ("Commercial, Switzerland geo (SWA)", "commercial", "swa"),
    "commercial_ina": ("Commercial, India geo (INA)", "commercial", "ina"),
    "gcc": ("US Government GCC", "gcc", "us"),
    "gcc_high": ("US Government GCC High", "gcc_high", "us"),
    "dod": ("US Government DoD", "dod", "us"),
}


def open_add_dialog(s: Session) -> Form:
    s.open("configuration")
    s.page.get_by_role("button", name="Add", exact=True).click()
    dialog = Form(s.page.get_by_role("dialog"))
    dialog.field("tenant_id").wait_for()
    return dialog


def fill_account(dialog: Form, name: str, tenant: str, client_id: str, secret: str, cloud: str = "") -> None:
    dialog.fill("name", name)
    dialog.fill("tenant_id", tenant)
    dialog.fill("client_id", client_id)
    if cloud:
        dialog.pick("cloud", CLOUDS[cloud][0])
    dialog.fill("client_secret", secret)


def submit(dialog: Form, button: str = "Add") -> None:
    dialog.root.get_by_role("button", name=button, exact=True).click()


def row(s: Session, name: str) -> Any:
    return s.page.get_by_role("row").filter(has_text=name)


def demo_tenant(s: Session, cloud: str = "commercial", domain: str | None = None) -> tuple[str, str]:
    _, ms_cloud, geo = CLOUDS[cloud]
    tenant = s.ui.stack.microsoft.add_tenant(domain=domain, cloud=ms_cloud, geo=geo)
    app = s.ui.stack.microsoft.add_app(tenant.tenant_id, secret=SECRET)
    return tenant.tenant_id, app.client_id


def test_an_account_with_a_secret_is_checked_saved_and_listed(session: Session) -> None:
    session.secrets.append(SECRET)
    tenant, client_id = demo_tenant(session, domain="contoso.onmicrosoft.com")
    dialog = open_add_dialog(session)
    fill_account(dialog, "contoso", "contoso.onmicrosoft.com", client_id, SECRET)
    assert dialog.field("client_secret").locator("input").get_attribute("type") == "password"
    screenshot(session.page, session.shots, "add-account-secret", tuple(session.secrets))
    submit(dialog)
    listed = row(session, "contoso")
    listed.wait_for()
    assert client_id in listed.inner_text()
    stored = session.ui.splunkd.stanza(ACCOUNT_CONF, "contoso")
    assert stored["client_id"] == client_id and stored["client_secret"] == "******"
    realm = credential_realm(ACCOUNT_CONF)
    assert any(SECRET in value for name, value in session.ui.splunkd.passwords().items() if name.startswith(realm))
    assert session.ui.stack.microsoft.count("api", status=200) == 1  # the connectivity check read one alert
    screenshot(session.page, session.shots, "accounts-list", tuple(session.secrets))


def test_a_wrong_secret_shows_the_handlers_sentence_and_stores_nothing(session: Session) -> None:
    wrong = "not-the-secret-Value"
    session.secrets += [SECRET, wrong]
    _, client_id = demo_tenant(session)
    tenant = session.ui.stack.microsoft.tenants
    tenant_id = next(iter(tenant))
    session.watch.expect("POST", ACCOUNTS_API, 500)  # splunkd's answer to the handler's RestError
    dialog = open_add_dialog(session)
    fill_account(dialog, "contoso", tenant_id, client_id, wrong)
    submit(dialog)
    message = dialog.message()
    assert message.startswith("Not saved: ") and "paste the secret's Value" in message, message
    assert "REST Error" not in message and "python handler" not in message
    screenshot(session.page, session.shots, "add-account-not-saved", tuple(session.secrets))
    assert session.ui.splunkd.stanza(ACCOUNT_CONF, "contoso") is None
    assert session.ui.splunkd.passwords() == {}


def test_certificate_swaps_the_secret_for_private_key_and_thumbprint(session: Session) -> None:
    certificate = make_app_certificate()
    session.secrets.append(certificate.private_key_pem.strip().splitlines()[1])
    tenant = session.ui.stack.microsoft.add_tenant()
    app = session.ui.stack.microsoft.add_app(tenant.tenant_id, certificate_pem=certificate.certificate_pem)
    dialog = open_add_dialog(session)
    assert dialog.visible("client_secret")
    assert not dialog.visible("certificate_private_key") and not dialog.visible("certificate_thumbprint")
    dialog.choose("auth_type", "Certificate")
    assert not dialog.visible("client_secret")
    assert dialog.visible("certificate_private_key") and dialog.visible("certificate_thumbprint")
    dialog.fill("name", "fabrikam")
    dialog.fill("tenant_id", tenant.tenant_id)
    dialog.fill("client_id", app.client_id)
    dialog.fill("certificate_thumbprint", certificate.sha1_thumbprint)
    screenshot(session.page, session.shots, "add-account-certificate", tuple(session.secrets))
    dialog.fill("certificate_private_key", certificate.private_key_pem)
    submit(dialog)
    row(session, "fabrikam").wait_for()
    stored = session.ui.splunkd.stanza(ACCOUNT_CONF, "fabrikam")
    assert stored["auth_type"] == "certificate" and stored["certificate_private_key"] == "******"
    assert stored.get("client_secret", "") in ("", "******") and SECRET not in str(stored)
    assert session.ui.stack.microsoft.count("token", status=200) == 1


def test_editing_an_account_keeps_its_secret_without_retyping_it(session: Session) -> None:
    session.secrets.append(SECRET)
    tenant_id, client_id = demo_tenant(session)
    dialog = open_add_dialog(session)
    fill_account(dialog, "contoso", tenant_id, client_id, SECRET, "commercial")
    submit(dialog)
    listed = row(session, "contoso")
    listed.get_by_role("button", name="Edit").click()
    edit = Form(session.page.get_by_role("dialog"))
    edit.field("client_secret").wait_for()
    assert edit.value("client_secret") == "******"
    edit.pick("cloud", "Commercial, US geo")
    submit(edit, "Update")
    edit.root.wait_for(state="detached")
    stored = session.ui.splunkd.stanza(ACCOUNT_CONF, "contoso")
    assert stored["cloud"] == "commercial_us" and stored["client_secret"] == "******"
    assert session.ui.stack.microsoft.count("token", status=200) == 2  # checked again, with the stored secret
    realm = credential_realm(ACCOUNT_CONF)
    assert any(SECRET in value for name, value in session.ui.splunkd.passwords().items() if name.startswith(realm))


def test_every_cloud_can_be_picked_and_saved(session: Session) -> None:
    session.secrets.append(SECRET)
    for count, cloud in enumerate(sorted(CLOUDS), start=1):
        tenant_id, client_id = demo_tenant(session, cloud)
        dialog = open_add_dialog(session)
        fill_account(dialog, f"acct_{cloud}", tenant_id, client_id, SECRET, cloud)
        submit(dialog)
        row(session, f"acct_{cloud}").wait_for()
        assert session.ui.splunkd.stanza(ACCOUNT_CONF, f"acct_{cloud}")["cloud"] == cloud
        assert session.ui.stack.microsoft.count("api", status=200) == count  # each checked at its own cloud
