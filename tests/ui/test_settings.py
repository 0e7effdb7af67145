"""Configuration > Proxy, TLS and Logging in a real browser, through the generated settings handler."""

from __future__ import annotations

from tests.standins.splunkd import SETTINGS_CONF, credential_realm
from tests.ui.browser import Form
from tests.ui.conftest import Session

PROXY_PASSWORD = "proxy-Passw0rd~typed"


def open_tab(s: Session, tab: str) -> Form:
    s.open("configuration", tab)
    s.page.get_by_role("button", name="Save").wait_for()
    return Form(s.page.locator("body"))


def save(s: Session) -> None:
    s.page.get_by_role("button", name="Save").click()


def wait_stored(s: Session, stanza: str, key: str, value: str) -> dict[str, str]:
    for _ in range(200):
        stored = s.ui.splunkd.stanza(SETTINGS_CONF, stanza) or {}
        if stored.get(key) == value:
            return dict(stored)
        s.page.wait_for_timeout(100)
    raise AssertionError(f"{stanza}.{key} was never stored as {value!r}: {s.ui.splunkd.stanza(SETTINGS_CONF, stanza)}")


def test_proxy_is_saved_with_its_password_encrypted(session: Session) -> None:
    session.secrets.append(PROXY_PASSWORD)
    form = open_tab(session, "proxy")
    form.toggle("proxy_enabled")
    form.pick("proxy_type", "socks5h (DNS through the proxy)")
    form.fill("proxy_url", "proxy.example.com")
    form.fill("proxy_port", "3128")
    form.fill("proxy_username", "svc_splunk")
    form.fill("proxy_password", PROXY_PASSWORD)
    save(session)
    stored = wait_stored(session, "proxy", "proxy_port", "3128")
    assert stored["proxy_type"] == "socks5h" and stored["proxy_url"] == "proxy.example.com"
    assert stored["proxy_password"] == "******" and stored["proxy_enabled"] in ("1", "true")
    realm = credential_realm(SETTINGS_CONF)
    assert any(PROXY_PASSWORD in v for n, v in session.ui.splunkd.passwords().items() if n.startswith(realm))
    session.open("configuration", "proxy")
    assert Form(session.page.locator("body")).value("proxy_password") == "******"


def test_a_bad_proxy_port_shows_its_message_and_is_not_saved(session: Session) -> None:
    form = open_tab(session, "proxy")
    form.fill("proxy_url", "proxy.example.com")
    form.fill("proxy_port", "70000")
    save(session)
    assert "Proxy port must be a whole number from 1 to 65535." in form.message()
    assert (session.ui.splunkd.stanza(SETTINGS_CONF, "proxy") or {}).get("proxy_port") != "70000"


def test_tls_ca_bundle_path_is_saved(session: Session) -> None:
    form = open_tab(session, "tls")
    form.fill("ca_bundle_path", str(session.ui.stack.tls.ca))
    save(session)
    wait_stored(session, "tls", "ca_bundle_path", str(session.ui.stack.tls.ca))


def test_a_missing_ca_file_shows_its_message_and_is_not_saved(session: Session) -> None:
    session.watch.expect("POST", r"/ta_defender_endpoint_alerts_settings/tls\b", 500)  # the handler's RestError
    form = open_tab(session, "tls")
    form.fill("ca_bundle_path", "/nonexistent/ca.pem")
    save(session)
    assert "CA bundle file /nonexistent/ca.pem does not exist on this Splunk server" in form.message()
    assert (session.ui.splunkd.stanza(SETTINGS_CONF, "tls") or {}).get("ca_bundle_path") != "/nonexistent/ca.pem"


def test_logging_level_is_saved(session: Session) -> None:
    form = open_tab(session, "logging")
    form.pick("loglevel", "DEBUG")
    save(session)
    wait_stored(session, "logging", "loglevel", "DEBUG")
