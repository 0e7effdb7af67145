"""The Microsoft stand-in honours the documented Entra ID and Defender API contract.

Why this file exists: the add-on's tests will trust the stand-in. Each test here pins
one part of the contract (FACTS.md sections 1-2) that a collector can get wrong:
OData filtering at 100 ns precision with ties, ordering and paging, evidence only
with ``$expand``, Defender's timestamp printing, no ``@odata.nextLink`` by default,
429 + Retry-After at the 101st call, AADSTS codes, region routing, late-visible
alert states, fault injection, MSAL through the hostmap (in-process and in a child
process, which is how the add-on will run), and speed on a 100,000-alert backlog.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import msal
import pytest
import requests

from tests.standins.alerts_factory import AlertFactory, load_sample_alerts
from tests.standins.launcher import HOSTMAP_DIR, child_env
from tests.standins.microsoft import ManualClock, MicrosoftStandin, parse_filter
from tests.standins.timefmt import format_ticks, parse_odata_datetime, parse_ticks
from tests.standins.tls import TlsPaths, make_app_certificate

SCOPE = "https://api.securitycenter.microsoft.com/.default"
API = "https://api.security.microsoft.com/api/alerts"
TOKEN = "https://login.microsoftonline.com/{}/oauth2/v2.0/token"


def token_for(
    http: requests.Session,
    tenant: str,
    client_id: str,
    secret: str,
    host: str = "login.microsoftonline.com",
    scope: str = SCOPE,
) -> requests.Response:
    return http.post(
        f"https://{host}/{tenant}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret, "scope": scope},
    )


def setup_tenant(ms: MicrosoftStandin, http: requests.Session, **tenant_kw: Any) -> tuple[str, str]:
    t = ms.add_tenant(**tenant_kw)
    app = ms.add_app(t.tenant_id, secret="pw")
    r = token_for(
        http,
        t.tenant_id,
        app.client_id,
        "pw",
        host=t.login_host,
        scope=SCOPE if t.login_host.endswith(".com") else "https://api-gov.securitycenter.microsoft.us/.default",
    )
    assert r.status_code == 200, r.text
    http.headers["Authorization"] = "Bearer " + r.json()["access_token"]
    return t.tenant_id, app.client_id


def alert(aid: str, lut: str, **kw: Any) -> dict[str, Any]:
    base = {
        "id": aid,
        "status": "New",
        "severity": "Low",
        "alertCreationTime": "2024-01-01T00:00:00Z",
        "lastUpdateTime": lut,
        "evidence": [{"entityType": "File", "fileName": f"{aid}.exe"}],
    }
    base.update(kw)
    return base


def get(http: requests.Session, url: str = API, **params: str) -> requests.Response:
    return http.get(url, params=params, timeout=30)


# ---------------------------------------------------------------- timestamps
def test_timestamp_printing_drops_trailing_zeros_and_keeps_7_digits() -> None:
    assert format_ticks(parse_ticks("2021-01-26T20:33:59.2000000Z")) == "2021-01-26T20:33:59.2Z"
    assert format_ticks(parse_ticks("2020-06-30T15:29:44.7733333Z")) == "2020-06-30T15:29:44.7733333Z"
    assert format_ticks(parse_ticks("2021-01-26T20:33:59.000Z")) == "2021-01-26T20:33:59Z"
    assert parse_ticks("2024-01-01T00:00:00.0000001Z") - parse_ticks("2024-01-01T00:00:00Z") == 1
    assert parse_odata_datetime("2024-01-01T02:00:00+02:00") == parse_ticks("2024-01-01T00:00:00Z")
    with pytest.raises(ValueError):
        parse_odata_datetime("2024-01-01T00:00:00.12345678Z")


def test_served_timestamps_are_normalised(ms: MicrosoftStandin, http: requests.Session) -> None:
    tid, _ = setup_tenant(ms, http)
    ms.add_alerts(tid, [alert("a", "2024-01-01T00:00:01.5000000Z", alertCreationTime="2024-01-01T00:00:00.000Z")])
    v = get(http)
    assert v.status_code == 200
    body = v.json()
    assert body["value"][0]["lastUpdateTime"] == "2024-01-01T00:00:01.5Z"
    assert body["value"][0]["alertCreationTime"] == "2024-01-01T00:00:00Z"
    assert body["@odata.context"] == "https://api.security.microsoft.com/api/$metadata#Alerts"
    assert "@odata.nextLink" not in body


# ---------------------------------------------------------------- OData
def test_filter_ge_gt_at_100ns_precision_with_ties(ms: MicrosoftStandin, http: requests.Session) -> None:
    tid, _ = setup_tenant(ms, http)
    t = "2024-01-01T00:00:00.1234567Z"
    ms.add_alerts(
        tid,
        [alert(f"tie{i}", t) for i in range(5)]
        + [
            alert("before", "2024-01-01T00:00:00.1234566Z"),
            alert("after", "2024-01-01T00:00:00.1234568Z"),
        ],
    )

    def ids(r: requests.Response) -> list[str]:
        return [a["id"] for a in r.json()["value"]]

    asc = {"$orderby": "lastUpdateTime asc"}
    assert ids(get(http, **asc, **{"$filter": f"lastUpdateTime ge {t}"})) == [f"tie{i}" for i in range(5)] + ["after"]
    assert ids(get(http, **asc, **{"$filter": f"lastUpdateTime gt {t}"})) == ["after"]
    assert ids(get(http, **asc, **{"$filter": f"lastUpdateTime lt {t}"})) == ["before"]
    assert ids(get(http, **asc, **{"$filter": f"lastUpdateTime le {t}"})) == ["before"] + [f"tie{i}" for i in range(5)]
    assert ids(get(http, **asc, **{"$filter": f"lastUpdateTime eq {t}"})) == [f"tie{i}" for i in range(5)]
    # "...00.12Z" is an instant, not a string prefix: nothing equals it here
    assert ids(get(http, **{"$filter": "lastUpdateTime eq 2024-01-01T00:00:00.12Z"})) == []
    both = "lastUpdateTime gt 2024-01-01T00:00:00.1234566Z and lastUpdateTime lt 2024-01-01T00:00:00.1234568Z"
    assert ids(get(http, **asc, **{"$filter": both})) == [f"tie{i}" for i in range(5)]
    assert ids(get(http, **asc, **{"$filter": f"(lastUpdateTime ge {t}) and status eq 'New'"}))[-1] == "after"


def test_filter_on_alert_creation_time_and_order(ms: MicrosoftStandin, http: requests.Session) -> None:
    tid, _ = setup_tenant(ms, http)
    ms.add_alerts(
        tid,
        [
            alert("x", "2024-01-05T00:00:00Z", alertCreationTime="2024-01-03T00:00:00Z"),
            alert("y", "2024-01-02T00:00:00Z", alertCreationTime="2024-01-02T00:00:00Z"),
            alert("z", "2024-01-04T00:00:00Z", alertCreationTime="2024-01-01T00:00:00Z"),
        ],
    )
    r = get(http, **{"$filter": "alertCreationTime ge 2024-01-02T00:00:00Z", "$orderby": "alertCreationTime desc"})
    assert [a["id"] for a in r.json()["value"]] == ["x", "y"]
    r = get(http, **{"$orderby": "lastUpdateTime desc"})
    assert [a["id"] for a in r.json()["value"]] == ["x", "z", "y"]
    # without $orderby the order is the alert id, unrelated to time
    assert [a["id"] for a in get(http).json()["value"]] == ["x", "y", "z"]


@pytest.mark.parametrize(
    "flt",
    [
        "lastUpdateTime ge '2024-01-01T00:00:00Z'",  # quoted literal is Edm.String
        "lastUpdateTime ge 2024-01-01",  # date only
        "lastUpdateTime ge 2024-01-01T00:00:00.12345678Z",  # 8 fractional digits
        "lastUpdatedTime ge 2024-01-01T00:00:00Z",  # unknown property
        "lastUpdateTime ge 2024-01-01T00:00:00Z or status eq 'New'",
        "lastUpdateTime >= 2024-01-01T00:00:00Z",
        "lastUpdateTime ge",
        "(lastUpdateTime ge 2024-01-01T00:00:00Z",
    ],
)
def test_invalid_filters_are_400(ms: MicrosoftStandin, http: requests.Session, flt: str) -> None:
    setup_tenant(ms, http)
    r = get(http, **{"$filter": flt})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "InvalidRequest"


def test_parse_filter_accepts_documented_forms() -> None:
    preds = parse_filter("lastUpdateTime ge 2024-01-01T00:00:00Z and alertCreationTime lt 2024-02-01T00:00:00.5Z")
    assert [(p.field, p.op) for p in preds] == [("lastUpdateTime", "ge"), ("alertCreationTime", "lt")]


def test_top_skip_expand(ms: MicrosoftStandin, http: requests.Session) -> None:
    tid, _ = setup_tenant(ms, http)
    alerts = AlertFactory(seed=3, tenant_id=tid).alerts(50, tie_groups=2, tie_size=10, evidence_fraction=1.0)
    ms.add_alerts(tid, alerts)
    order = {"$orderby": "lastUpdateTime asc"}
    pages = [get(http, **order, **{"$top": "7", "$skip": str(s)}).json()["value"] for s in range(0, 50, 7)]
    got = [a["id"] for p in pages for a in p]
    assert got == [a["id"] for a in alerts]  # factory output is sorted by (lastUpdateTime, id)
    assert all(a["evidence"] == [] for p in pages for a in p)
    expanded = get(http, **order, **{"$top": "50", "$expand": "evidence"}).json()["value"]
    assert [a["evidence"] for a in expanded] == [a["evidence"] for a in alerts]
    assert all(len(a["evidence"]) >= 1 for a in expanded)
    assert get(http, **{"$top": "10000"}).status_code == 200
    too_many = get(http, **{"$top": "10001"})
    assert too_many.status_code == 400 and "10000" in too_many.json()["error"]["message"]
    assert get(http, **{"$expand": "machine"}).status_code == 400
    assert get(http, **{"$select": "id"}).status_code == 400


def test_next_link_only_when_switched_on(tls: TlsPaths, http: requests.Session) -> None:
    from tests.standins.hostmap.sitecustomize import install

    with MicrosoftStandin(str(tls.cert), str(tls.key), emit_next_link=True) as ms:
        undo = install(ms.hostmap())
        try:
            tid, _ = setup_tenant(ms, http)
            ms.add_alerts(tid, AlertFactory(seed=1, tenant_id=tid).alerts(25))
            url: str | None = API + "?$orderby=lastUpdateTime asc&$top=10&$expand=evidence"
            seen: list[str] = []
            for _ in range(10):
                if url is None:
                    break
                body = http.get(url, timeout=30).json()
                seen += [a["id"] for a in body["value"]]
                url = body.get("@odata.nextLink")
            assert len(seen) == 25 and len(set(seen)) == 25
            assert ms.count("api") == 3
        finally:
            undo()


# ---------------------------------------------------------------- throttling
def test_429_with_retry_after_at_101st_call_in_a_minute(
    ms: MicrosoftStandin, http: requests.Session, clock: ManualClock
) -> None:
    setup_tenant(ms, http)
    for _ in range(100):
        assert get(http, **{"$top": "1"}).status_code == 200
        clock.advance(0.1)
    r = get(http, **{"$top": "1"})
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "TooManyRequests"
    retry = int(r.headers["Retry-After"])
    assert 1 <= retry <= 60
    clock.advance(retry - 1.5)
    assert get(http).status_code == 429  # still inside the window
    clock.advance(1.6)
    assert get(http).status_code == 200


def test_hourly_limit(tls: TlsPaths, http: requests.Session) -> None:
    from tests.standins.hostmap.sitecustomize import install

    clock = ManualClock(0.0)
    with MicrosoftStandin(str(tls.cert), str(tls.key), clock=clock, rate_limits=(3, 5)) as ms:
        undo = install(ms.hostmap())
        try:
            setup_tenant(ms, http)
            for _ in range(5):
                assert get(http).status_code == 200
                clock.advance(30)
            r = get(http)
            assert r.status_code == 429
            assert int(r.headers["Retry-After"]) > 60  # the hour window, not the minute one
        finally:
            undo()


def test_limits_are_per_tenant_and_app(ms: MicrosoftStandin, http: requests.Session) -> None:
    ms.limiter.limits = (2, 100)
    setup_tenant(ms, http)
    assert [get(http).status_code for _ in range(3)] == [200, 200, 429]
    setup_tenant(ms, http)  # another tenant/app: its own budget
    assert get(http).status_code == 200


# ---------------------------------------------------------------- Entra ID errors
def aadsts(r: requests.Response) -> int:
    body = r.json()
    assert body["error_description"].startswith(f"AADSTS{body['error_codes'][0]}:")
    return int(body["error_codes"][0])


def test_token_errors_carry_the_right_aadsts_codes(ms: MicrosoftStandin, http: requests.Session) -> None:
    t = ms.add_tenant(domain="contoso.onmicrosoft.com")
    good = ms.add_app(t.tenant_id, secret="pw")
    expired = ms.add_app(t.tenant_id, secret="old", secret_expired=True)
    unconsented = ms.add_app(t.tenant_id, secret="pw", consented=False)
    gov = ms.add_tenant(cloud="gcc_high")

    r = token_for(http, "00000000-0000-0000-0000-00000000abcd", good.client_id, "pw")
    assert (r.status_code, r.json()["error"], aadsts(r)) == (400, "invalid_request", 90002)
    r = token_for(http, t.tenant_id, good.client_id, "wrong")
    assert (r.status_code, r.json()["error"], aadsts(r)) == (401, "invalid_client", 7000215)
    r = token_for(http, t.tenant_id, expired.client_id, "old")
    assert (r.status_code, r.json()["error"], aadsts(r)) == (401, "invalid_client", 7000222)
    r = token_for(http, t.tenant_id, "11111111-2222-3333-4444-555555555555", "pw")
    assert (r.status_code, r.json()["error"], aadsts(r)) == (400, "unauthorized_client", 700016)
    r = token_for(http, gov.tenant_id, good.client_id, "pw")
    assert (r.status_code, aadsts(r)) == (400, 90038)
    r = token_for(http, t.tenant_id, good.client_id, "pw", host="login.microsoftonline.us")
    assert (r.status_code, aadsts(r)) == (400, 90038)
    r = token_for(http, t.tenant_id, unconsented.client_id, "pw")
    assert (r.status_code, r.json()["error"], aadsts(r)) == (400, "invalid_resource", 500011)
    r = token_for(http, t.tenant_id, good.client_id, "pw", scope="https://api-gov.securitycenter.microsoft.us/.default")
    assert aadsts(r) == 500011  # the gov resource does not exist in the commercial cloud
    r = token_for(
        http, t.tenant_id, good.client_id, "pw", scope="https://api.securitycenter.microsoft.com/Alert.Read.All"
    )
    assert (r.status_code, r.json()["error"], aadsts(r)) == (400, "invalid_scope", 1002012)
    # by domain name, and the alternative resource URI
    r = token_for(
        http,
        "contoso.onmicrosoft.com",
        good.client_id,
        "pw",
        scope="https://securitycenter.onmicrosoft.com/windowsatpservice/.default",
    )
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3599 and body["ext_expires_in"] == 3599
    assert ms.count("token", status=200) == 1
    assert {r.error for r in ms.requests if r.status != 200} >= {"AADSTS90002", "AADSTS7000215", "AADSTS7000222"}


def test_oidc_discovery_unknown_tenant_is_400(ms: MicrosoftStandin, http: requests.Session) -> None:
    r = http.get("https://login.microsoftonline.com/nobody.example/v2.0/.well-known/openid-configuration")
    assert r.status_code == 400 and aadsts(r) == 90002
    t = ms.add_tenant(domain="fabrikam.onmicrosoft.com")
    doc = http.get(
        "https://login.microsoftonline.com/fabrikam.onmicrosoft.com/v2.0/.well-known/openid-configuration"
    ).json()
    assert doc["token_endpoint"] == f"https://login.microsoftonline.com/{t.tenant_id}/oauth2/v2.0/token"


# ---------------------------------------------------------------- API auth, roles, regions
def test_api_401_403_404(ms: MicrosoftStandin, http: requests.Session, clock: ManualClock) -> None:
    r = http.get(API)
    assert r.status_code == 401 and r.json()["error"]["code"] == "Unauthorized"
    assert r.json()["error"]["target"]
    tid, _ = setup_tenant(ms, http, geo="eu")
    assert get(http, url="https://eu.api.security.microsoft.com/api/alerts").status_code == 200
    assert get(http, url="https://api.securitycenter.microsoft.com/api/alerts").status_code == 200
    wrong_geo = get(http, url="https://us.api.security.microsoft.com/api/alerts")
    assert wrong_geo.status_code == 404 and wrong_geo.json()["error"]["code"] == "ResourceNotFound"
    assert get(http, url="https://api-gov.securitycenter.microsoft.us/api/alerts").status_code == 401
    ms.expire_all_tokens()
    assert get(http).status_code == 401
    # an app without Alert.Read.All gets a token, but the API refuses it
    app = ms.add_app(tid, secret="pw2", roles=["Machine.Isolate"])
    r = token_for(http, tid, app.client_id, "pw2")
    http.headers["Authorization"] = "Bearer " + r.json()["access_token"]
    forbidden = get(http)
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "Forbidden"
    # a token's lifetime runs on the stand-in's clock
    ok = ms.add_app(tid, secret="pw3")
    http.headers["Authorization"] = "Bearer " + token_for(http, tid, ok.client_id, "pw3").json()["access_token"]
    assert get(http).status_code == 200
    clock.advance(3600)
    assert get(http).status_code == 401


def test_gov_tenant_on_gov_hosts(ms: MicrosoftStandin, http: requests.Session) -> None:
    setup_tenant(ms, http, cloud="dod")
    assert get(http, url="https://api-gov.securitycenter.microsoft.us/api/alerts").status_code == 200
    assert get(http).status_code == 401  # a .us token is no good on the commercial API
    setup_tenant(ms, http, cloud="gcc")
    assert get(http, url="https://api-gcc.securitycenter.microsoft.us/api/alerts").status_code == 200
    assert get(http).status_code == 404


# ---------------------------------------------------------------- states and late arrival
def test_update_replaces_state_and_late_visibility(
    ms: MicrosoftStandin, http: requests.Session, clock: ManualClock
) -> None:
    tid, _ = setup_tenant(ms, http)
    ms.add_alerts(tid, [alert("a1", "2024-01-01T00:00:00Z"), alert("a2", "2024-01-01T00:00:05Z")])
    # a1 resolved "at 00:00:03", but Defender only shows that state 90 s later
    ms.update_alert(tid, "a1", {"status": "Resolved"}, last_update_time="2024-01-01T00:00:03Z", visible_at=clock() + 90)
    flt = {"$filter": "lastUpdateTime ge 2024-01-01T00:00:04Z", "$orderby": "lastUpdateTime asc"}
    full = {"$orderby": "lastUpdateTime asc"}
    assert [(a["id"], a["status"]) for a in get(http, **full).json()["value"]] == [("a1", "New"), ("a2", "New")]
    assert [a["id"] for a in get(http, **flt).json()["value"]] == ["a2"]
    clock.advance(91)
    now = get(http, **full).json()["value"]
    assert [(a["id"], a["status"], a["lastUpdateTime"]) for a in now] == [
        ("a1", "Resolved", "2024-01-01T00:00:03Z"),
        ("a2", "New", "2024-01-01T00:00:05Z"),
    ]
    # a collector whose cursor already passed 00:00:04 never sees the resolution
    assert [a["id"] for a in get(http, **flt).json()["value"]] == ["a2"]
    one = get(http, url=API + "/a1").json()
    assert one["status"] == "Resolved" and one["evidence"] == []


# ---------------------------------------------------------------- faults
def test_faults(ms: MicrosoftStandin, http: requests.Session) -> None:
    tid, _ = setup_tenant(ms, http)
    ms.add_alerts(tid, AlertFactory(seed=2, tenant_id=tid).alerts(200))
    ms.queue_fault("503")
    r = get(http)
    assert r.status_code == 503 and r.json()["error"]["code"] == "ServiceUnavailable"
    ms.queue_fault("http_error", status=500)
    assert get(http).status_code == 500
    ms.queue_fault("reset")
    with pytest.raises(requests.exceptions.ConnectionError):
        get(http)
    ms.queue_fault("truncate")
    try:
        r = get(http, **{"$top": "200", "$expand": "evidence"})
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError):
        pass  # urllib3 2.x enforces Content-Length
    else:
        # urllib3 1.26 (what splunktaucclib pins) hands back the short body without an error
        assert len(r.content) < int(r.headers["Content-Length"])
        with pytest.raises(ValueError):
            r.json()
    ms.queue_fault("html")
    r = get(http)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ValueError):
        r.json()
    ms.queue_fault("no_value")
    r = get(http)
    assert r.status_code == 200 and "value" not in r.json()
    ms.queue_fault("slow", delay=0.6)
    started = time.monotonic()
    r = get(http)
    assert r.status_code == 200 and time.monotonic() - started >= 0.6
    ms.queue_fault("throttle", retry_after=7)
    r = get(http)
    assert r.status_code == 429 and r.headers["Retry-After"] == "7"
    ms.queue_fault("503", target="token")
    assert get(http).status_code == 200  # token faults do not touch API calls
    assert get(http).status_code == 200
    faults = [r.fault for r in ms.requests if r.fault]
    assert faults == ["http_error", "http_error", "reset", "truncate", "html", "no_value", "slow", "throttle"]


def test_fault_probability_is_seeded(tls: TlsPaths, http: requests.Session) -> None:
    from tests.standins.hostmap.sitecustomize import install

    def run() -> list[int]:
        with MicrosoftStandin(str(tls.cert), str(tls.key), fault_seed=42) as ms:
            undo = install(ms.hostmap())
            try:
                setup_tenant(ms, http)
                ms.set_fault_probability("502", 0.3)
                return [get(http).status_code for _ in range(30)]
            finally:
                undo()

    first, second = run(), run()
    assert first == second
    assert 3 <= first.count(502) <= 20 and first.count(200) >= 10


# ---------------------------------------------------------------- MSAL through the hostmap
def test_msal_secret_and_certificate_in_process(ms: MicrosoftStandin, tls: TlsPaths) -> None:
    t = ms.add_tenant()
    cert = make_app_certificate()
    app = ms.add_app(t.tenant_id, secret="pw", certificate_pem=cert.certificate_pem)
    authority = f"https://login.microsoftonline.com/{t.tenant_id}"
    creds: list[Any] = [
        "pw",
        {"private_key": cert.private_key_pem, "thumbprint": cert.sha1_thumbprint},  # RS256 + x5t
        {"private_key": cert.private_key_pem, "public_certificate": cert.certificate_pem},  # PS256 + x5t#S256
    ]
    for cred in creds:
        cca = msal.ConfidentialClientApplication(
            app.client_id, client_credential=cred, authority=authority, verify=str(tls.ca), azure_region=None
        )
        result = cca.acquire_token_for_client(scopes=[SCOPE])
        assert "access_token" in result, result
        assert cca.acquire_token_for_client(scopes=[SCOPE])["token_source"] == "cache"
    assert [r.credential for r in ms.requests if r.kind == "token"] == ["secret", "assertion:RS256", "assertion:PS256"]
    # a certificate the app does not know
    other = make_app_certificate("other")
    cca = msal.ConfidentialClientApplication(
        app.client_id,
        client_credential={"private_key": other.private_key_pem, "thumbprint": other.sha1_thumbprint},
        authority=authority,
        verify=str(tls.ca),
    )
    assert cca.acquire_token_for_client(scopes=[SCOPE])["error_codes"] == [700027]


def test_msal_in_a_child_process_through_sitecustomize(ms: MicrosoftStandin, tls: TlsPaths) -> None:
    t = ms.add_tenant()
    app = ms.add_app(t.tenant_id, secret="pw")
    ms.add_alerts(t.tenant_id, AlertFactory(seed=9, tenant_id=t.tenant_id).alerts(3))
    code = f"""
import json, msal, requests, socket
cca = msal.ConfidentialClientApplication({app.client_id!r}, client_credential="pw",
    authority="https://login.microsoftonline.com/{t.tenant_id}")
tok = cca.acquire_token_for_client(scopes=[{SCOPE!r}])
r = requests.get("https://api.security.microsoft.com/api/alerts",
                 headers={{"Authorization": "Bearer " + tok["access_token"]}}, timeout=30)
try:
    socket.getaddrinfo("example.com", 443)
    refused = False
except socket.gaierror:
    refused = True
print(json.dumps({{"status": r.status_code, "n": len(r.json()["value"]), "refused": refused}}))
"""
    env = child_env(hostmap=ms.hostmap(), ca_path=str(tls.ca))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"status": 200, "n": 3, "refused": True}
    hosts = [(r.kind, r.host, r.sni) for r in ms.requests]
    assert ("oidc", "login.microsoftonline.com", "login.microsoftonline.com") in hosts
    assert ("api", "api.security.microsoft.com", "api.security.microsoft.com") in hosts


def test_sitecustomize_is_a_noop_without_the_variable(tls: TlsPaths) -> None:
    env = child_env(hostmap={}, ca_path=None)
    del env["MDE_STANDIN_HOSTMAP"]
    code = "import socket, sitecustomize; print(socket.getaddrinfo.__module__, sitecustomize.__file__)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30)
    module, path = out.stdout.split()
    assert module == "socket" and path.startswith(str(HOSTMAP_DIR))


# ---------------------------------------------------------------- samples and scale
def test_factory_is_deterministic_and_realistic() -> None:
    assert len(load_sample_alerts()) == 6
    a = AlertFactory(seed=7).alerts(300, tie_groups=3, tie_size=20)
    b = AlertFactory(seed=7).alerts(300, tie_groups=3, tie_size=20)
    assert a == b
    assert len({x["id"] for x in a}) == 300
    from collections import Counter

    counts = Counter(x["lastUpdateTime"] for x in a)
    assert sorted(counts.values())[-3:] == [20, 20, 20]
    with_ev = sum(1 for x in a if x["evidence"])
    assert 240 <= with_ev <= 290 and all(1 <= len(x["evidence"]) <= 3 for x in a if x["evidence"])
    assert all(x["id"].startswith("da6") for x in a)
    digits = Counter(len(x["lastUpdateTime"].split(".")[1]) - 1 if "." in x["lastUpdateTime"] else 0 for x in a)
    assert digits[7] > 100 and digits[0] > 5  # mostly 7 digits, some whole seconds


def test_large_backlog_pages_quickly(ms: MicrosoftStandin, http: requests.Session) -> None:
    tid, _ = setup_tenant(ms, http)
    alerts = AlertFactory(seed=11, tenant_id=tid).alerts(100_000, tie_groups=20, tie_size=100)
    ms.add_alerts(tid, alerts)
    since = "2024-01-01T00:00:00Z"
    seen = 0
    last = None
    for _ in range(20):
        r = get(
            http,
            **{
                "$filter": f"lastUpdateTime ge {since}",
                "$orderby": "lastUpdateTime asc",
                "$top": "10000",
                "$skip": "0",
                "$expand": "evidence",
            },
        )
        page = r.json()["value"]
        if last is not None:
            # drop what was already seen at the boundary instant
            page = [a for a in page if (a["lastUpdateTime"], a["id"]) > last]
        if not page:
            break
        seen += len(page)
        last = (page[-1]["lastUpdateTime"], page[-1]["id"])
        since = page[-1]["lastUpdateTime"]
    assert seen == 100_000
    served = [r for r in ms.requests if r.kind == "api"]
    assert max(r.duration for r in served) < 1.5, [round(r.duration, 3) for r in served]
