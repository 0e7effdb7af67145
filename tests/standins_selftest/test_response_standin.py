"""The response side of the Microsoft stand-in and the splunkd stand-in's users, tested on their own.

Why: the response action tests trust these behaviours, so each is pinned here directly over
HTTP: a machine action's life (Pending, InProgress, final), the 400 for a repeat, 403s naming
the roles, the alert PATCH moving lastUpdateTime, Graph's audience and advanced-query rules,
and capabilities computed from the package's authorize.conf.
"""

from __future__ import annotations

import time
from pathlib import Path

import requests

from tests.standins.microsoft import MicrosoftStandin
from tests.standins.splunkd import SplunkdStandin
from tests.standins.tls import TlsPaths

API = "https://api.security.microsoft.com"
GRAPH = "https://graph.microsoft.com"
ROOT = Path(__file__).resolve().parents[2]


def bearer(ms: MicrosoftStandin, http: requests.Session, roles: tuple[str, ...], scope: str) -> str:
    tenant = ms.add_tenant()
    app = ms.add_app(tenant.tenant_id, secret="pw", roles=roles)
    answer = http.post(
        f"https://login.microsoftonline.com/{tenant.tenant_id}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "client_id": app.client_id, "client_secret": "pw", "scope": scope},
    )
    assert answer.status_code == 200, answer.text
    http.headers["Authorization"] = "Bearer " + answer.json()["access_token"]
    return tenant.tenant_id


def test_machine_actions_live_pending_inprogress_final_and_refuse_repeats(
    ms: MicrosoftStandin, http: requests.Session
) -> None:
    ms.action_timing = (0.3, 0.6)
    tid = bearer(ms, http, ("Machine.Read.All", "Machine.Isolate"), "https://api.securitycenter.microsoft.com/.default")
    machine = ms.add_machine(tid, "PC1.contoso.com")
    assert http.get(f"{API}/api/machines", params={"$filter": "computerDnsName eq 'pc1.contoso.com'"}).json()["value"]
    assert http.get(f"{API}/api/machines", params={"$filter": "startswith(computerDnsName,'pc1.')"}).json()["value"]
    post = http.post(f"{API}/api/machines/{machine['id']}/isolate", json={"Comment": "c", "IsolationType": "Full"})
    assert post.status_code == 201 and post.json()["status"] == "Pending"
    again = http.post(f"{API}/api/machines/{machine['id']}/isolate", json={"Comment": "c"})
    assert again.status_code == 400 and again.json()["error"]["message"] == "Action is already in progress"
    time.sleep(0.35)
    assert http.get(f"{API}/api/machineactions/{post.json()['id']}").json()["status"] == "InProgress"
    listed = http.get(
        f"{API}/api/machineactions", params={"$filter": f"machineId eq '{machine['id']}' and status eq 'InProgress'"}
    )
    assert [a["id"] for a in listed.json()["value"]] == [post.json()["id"]]
    time.sleep(0.3)
    assert http.get(f"{API}/api/machineactions/{post.json()['id']}").json()["status"] == "Succeeded"
    ms.fail_next_action(machine["id"], "TimeOut")
    failing = http.post(f"{API}/api/machines/{machine['id']}/isolate", json={"Comment": "c"}).json()
    time.sleep(0.65)
    assert http.get(f"{API}/api/machineactions/{failing['id']}").json()["status"] == "TimeOut"
    scan = http.post(f"{API}/api/machines/{machine['id']}/runAntiVirusScan", json={"Comment": "c", "ScanType": "Quick"})
    assert scan.status_code == 403 and "Machine.Scan" in scan.json()["error"]["message"]
    assert http.post(f"{API}/api/machines/{'0' * 40}/isolate", json={"Comment": "c"}).status_code == 404


def test_alert_patch_makes_a_new_state(ms: MicrosoftStandin, http: requests.Session) -> None:
    tid = bearer(ms, http, ("Alert.ReadWrite.All",), "https://api.securitycenter.microsoft.com/.default")
    ms.add_alerts(tid, [{"id": "da1", "status": "New", "lastUpdateTime": "2024-01-01T00:00:00Z", "comments": []}])
    answer = http.patch(f"{API}/api/alerts/da1", json={"status": "Resolved", "comment": "done"})
    assert answer.status_code == 200
    state = answer.json()
    assert state["status"] == "Resolved" and state["lastUpdateTime"] != "2024-01-01T00:00:00Z"
    assert state["comments"][-1]["comment"] == "done"
    assert http.patch(f"{API}/api/alerts/da1", json={"status": "Closed"}).status_code == 400
    assert http.patch(f"{API}/api/alerts/nope", json={"status": "New"}).status_code == 404


def test_graph_users_audience_and_advanced_queries(ms: MicrosoftStandin, http: requests.Session) -> None:
    tid = bearer(ms, http, ("User.Read.All", "User.EnableDisableAccount.All"), f"{GRAPH}/.default")
    eve = ms.add_user(tid, "eve@contoso.example", sam="eve")
    assert http.get(f"{GRAPH}/v1.0/users/eve@contoso.example").json()["id"] == eve["id"]
    plain = http.get(f"{GRAPH}/v1.0/users", params={"$filter": "onPremisesSamAccountName eq 'eve'"})
    assert plain.status_code == 400  # an advanced query needs ConsistencyLevel and $count
    advanced = http.get(
        f"{GRAPH}/v1.0/users",
        params={"$filter": "onPremisesSamAccountName eq 'eve'", "$count": "true"},
        headers={"ConsistencyLevel": "eventual"},
    )
    assert [u["id"] for u in advanced.json()["value"]] == [eve["id"]]
    assert http.patch(f"{GRAPH}/v1.0/users/{eve['id']}", json={"accountEnabled": False}).status_code == 204
    assert eve["accountEnabled"] is False
    revoke = http.post(f"{GRAPH}/v1.0/users/{eve['id']}/revokeSignInSessions")
    assert revoke.status_code == 403 and revoke.json()["error"]["code"] == "Authorization_RequestDenied"
    assert http.get(f"{API}/api/machines").status_code == 401  # a Graph token is not for Defender


def test_capabilities_come_from_the_packages_authorize_conf(tls: TlsPaths) -> None:
    standin = SplunkdStandin(str(tls.cert), str(tls.key), app_default_dir=ROOT / "package" / "default")
    responder = standin.capabilities_of(["defender_responder"])
    assert {"defender_endpoint_response", "list_storage_passwords", "search"} <= responder
    assert "defender_endpoint_response" in standin.capabilities_of(["admin"])
    assert "defender_endpoint_response" not in standin.capabilities_of(["user", "power"])
