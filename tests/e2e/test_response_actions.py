"""The packaged response actions, run as splunkd's sendalert runs them, against the stand-ins.

Each test writes a results file (gzip CSV), starts UCC's generated `bin/<action>.py --execute`
with splunkd's JSON payload on stdin under Splunk's Python, and reads what the action left:
its exit status, the stash files under $SPLUNK_HOME/var/spool/splunk (the audit events, as
ES reads adaptive response results), its `_modalert.log`, and what Microsoft's stand-in saw.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import ACCOUNT, SECRET, Scenario
from tests.e2e.response_harness import ALL_ROLES, ResponseScenario
from tests.standins.launcher import StandinStack

AUDIT = "ms:defender:atp:action"


@pytest.fixture
def rs(app_dir: Path, splunk_python: str, tmp_path: Path) -> Iterator[ResponseScenario]:
    stack = StandinStack(tmp_path / "stack", app_default_dir=app_dir / "default").start()
    try:
        yield ResponseScenario(stack, app_dir, splunk_python, tmp_path)
    finally:
        stack.stop()


def posts(rs: ResponseScenario) -> list[Any]:
    return [r for r in rs.stack.microsoft.requests if r.method in ("POST", "PATCH") and r.kind in ("api", "graph")]


def no_secret(rs: ResponseScenario) -> None:
    """No client secret, session key or access token in any log, audit event or output."""
    secrets = [SECRET, rs.stack.session_key, *rs.stack.microsoft.tokens]
    for run in rs.runs:
        for text in (run.log, run.stderr, run.stdout, json.dumps(run.audit)):
            assert not [secret for secret in secrets if secret in text]


def alert_row(rs: ResponseScenario, account: str, machine: dict[str, Any], **extra: Any) -> dict[str, Any]:
    (alert,) = rs.alerts(account, 1, machineId=machine["id"], computerDnsName=machine["computerDnsName"])
    row = {k: v for k, v in alert.items() if not isinstance(v, (dict, list))}
    row.update(extra)
    return row


MACHINE_ACTIONS = [
    ("mde_isolate_device", "isolate", "Isolate", {"isolation_type": "Selective"}, {"IsolationType": "Selective"}),
    ("mde_release_device", "unisolate", "Unisolate", {}, {}),
    ("mde_run_antivirus_scan", "runAntiVirusScan", "RunAntiVirusScan", {"scan_type": "Full"}, {"ScanType": "Full"}),
    ("mde_restrict_app_execution", "restrictCodeExecution", "RestrictCodeExecution", {}, {}),
    ("mde_remove_app_restriction", "unrestrictCodeExecution", "UnrestrictCodeExecution", {}, {}),
    ("mde_collect_investigation_package", "collectInvestigationPackage", "CollectInvestigationPackage", {}, {}),
]


def test_every_machine_action_polls_to_succeeded(rs: ResponseScenario) -> None:
    tenant = rs.add_tenant()
    machines = {
        action: rs.stack.microsoft.add_machine(tenant.tenant_id, f"{path.lower()}-pc.contoso.com")
        for action, path, _, _, _ in MACHINE_ACTIONS
    }
    rows = {action: alert_row(rs, ACCOUNT, machine) for action, machine in machines.items()}
    with ThreadPoolExecutor(len(MACHINE_ACTIONS)) as pool:  # six sendalerts at once, as six searches would
        runs = dict(zip(machines, pool.map(lambda a: rs.send(a[0], [rows[a[0]]], home=a[0], **a[3]), MACHINE_ACTIONS)))
    for action, _path, kind, _config, body in MACHINE_ACTIONS:
        run, machine = runs[action], machines[action]
        assert run.returncode == 0, run.log + run.stderr
        (audit,) = run.audit
        assert audit["outcome"] == "succeeded" and audit["final_status"] == "Succeeded", audit
        assert audit["machine_id"] == machine["id"] and audit["device_name"] == machine["computerDnsName"]
        assert audit["tenant"] == tenant.tenant_id and audit["account"] == ACCOUNT
        assert audit["requested_by"] == "admin" and audit["sid"] == run.payload["sid"]
        assert run.events[0].index == "cim_modactions" and run.events[0].sourcetype == AUDIT
        assert run.events[0].orig_action_name == action and run.events[0].orig_sid == run.payload["sid"]
        (done,) = [a for a in rs.stack.microsoft.machine_actions(tenant.tenant_id) if a["machineId"] == machine["id"]]
        assert done["type"] == kind and done["status"] == "Succeeded"
        assert "Defender - High alerts" in done["requestorComment"] and "admin" in done["requestorComment"]
        assert done["scope"] == (body.get("IsolationType") or body.get("ScanType"))
        assert 1.0 <= audit["duration_seconds"] < 15, audit
        assert 'action_status="success"' in run.log
        print(f"{action}: {audit['duration_seconds']:.1f}s to {audit['final_status']}, {run.seconds:.1f}s in all")
    no_secret(rs)


def test_polling_ends_at_failed_and_the_exit_says_so(rs: ResponseScenario) -> None:
    tenant = rs.add_tenant()
    machine = rs.stack.microsoft.add_machine(tenant.tenant_id, "pc-fail.contoso.com")
    rs.stack.microsoft.fail_next_action(machine["id"], "Failed")
    run = rs.send("mde_isolate_device", [alert_row(rs, ACCOUNT, machine)])
    (audit,) = run.audit
    assert run.returncode != 0
    assert audit["outcome"] == "failed" and audit["final_status"] == "Failed" and audit["machine_action_id"]
    assert 'action_status="failure"' in run.log
    rs.stack.microsoft.action_timing = (20.0, 40.0)  # slower than the action may wait
    slow = rs.stack.microsoft.add_machine(tenant.tenant_id, "pc-slow.contoso.com")
    run = rs.send("mde_isolate_device", [alert_row(rs, ACCOUNT, slow)], wait_seconds=4)
    (audit,) = run.audit
    assert run.returncode == 0 and audit["outcome"] == "pending" and audit["final_status"] == "Pending"
    assert "stopped waiting (4s)" in audit["error"] and audit["duration_seconds"] < 6


def test_a_pending_action_is_reported_not_posted_again(rs: ResponseScenario) -> None:
    tenant = rs.add_tenant()
    machine = rs.stack.microsoft.add_machine(tenant.tenant_id, "pc-dup.contoso.com")
    rs.stack.microsoft.action_timing = (6.0, 9.0)  # still open while the next runs start
    row = alert_row(rs, ACCOUNT, machine)
    first = rs.send("mde_isolate_device", [row], wait_seconds=0)
    assert first.audit[0]["outcome"] == "pending" and first.returncode == 0
    second = rs.send("mde_isolate_device", [row])
    (audit,) = second.audit
    assert audit["outcome"] == "already_pending"
    assert audit["machine_action_id"] == first.audit[0]["machine_action_id"]
    assert "already" in audit["error"]
    release = rs.send("mde_release_device", [row])  # the opposite action while the isolation is still open
    assert release.audit[0]["outcome"] == "refused" and "Isolate" in release.audit[0]["error"]
    assert len([r for r in posts(rs) if r.path.endswith("/isolate")]) == 1
    assert not [r for r in posts(rs) if r.path.endswith("/unisolate")]
    rs.stack.microsoft.list_lag = True  # Defender's list has not caught up: its 400 is the last guard
    third = rs.send("mde_isolate_device", [row])
    assert third.audit[0]["outcome"] == "already_pending" and third.returncode == 0
    assert "Action is already in progress" in third.audit[0]["error"]


def test_a_write_whose_answer_is_lost_is_never_posted_twice(rs: ResponseScenario) -> None:
    tenant = rs.add_tenant()
    ms = rs.stack.microsoft
    lost = ms.add_machine(tenant.tenant_id, "pc-lost.contoso.com")
    ms.queue_fault("truncate", method="POST")  # Defender takes the action, the answer breaks off
    run = rs.send("mde_isolate_device", [alert_row(rs, ACCOUNT, lost)])
    assert run.audit[0]["outcome"] == "succeeded", run.audit[0].get("error")
    assert len(posts(rs)) == 1 and len(ms.machine_actions(tenant.tenant_id)) == 1
    refused = ms.add_machine(tenant.tenant_id, "pc-reset.contoso.com")
    ms.queue_fault("reset", method="POST")  # the connection drops before Defender sees it
    run = rs.send("mde_isolate_device", [alert_row(rs, ACCOUNT, refused)], wait_seconds=0)
    assert run.audit[0]["outcome"] == "pending"
    assert len(posts(rs)) == 3 and len(ms.machine_actions(tenant.tenant_id)) == 2
    throttled = ms.add_machine(tenant.tenant_id, "pc-429.contoso.com")
    ms.queue_fault("throttle", retry_after=1, method="POST")  # refused before it was applied: sent again
    run = rs.send("mde_run_antivirus_scan", [alert_row(rs, ACCOUNT, throttled)], wait_seconds=0)
    assert run.audit[0]["outcome"] == "pending" and ms.count("api", status=429) == 1
    assert len(posts(rs)) == 5 and len(ms.machine_actions(tenant.tenant_id)) == 3
    unavailable = ms.add_machine(tenant.tenant_id, "pc-503.contoso.com")
    ms.queue_fault("503", method="POST")  # a 5xx may or may not have been applied: look, then post again
    run = rs.send("mde_collect_investigation_package", [alert_row(rs, ACCOUNT, unavailable)], wait_seconds=0)
    assert run.audit[0]["outcome"] == "pending"
    assert len(posts(rs)) == 7 and len(ms.machine_actions(tenant.tenant_id)) == 4


def test_over_the_cap_nothing_is_done(rs: ResponseScenario) -> None:
    tenant = rs.add_tenant()
    rows = [
        alert_row(rs, ACCOUNT, rs.stack.microsoft.add_machine(tenant.tenant_id, f"pc{i}.contoso.com")) for i in range(6)
    ]
    rows.append(dict(rows[0]))  # the same device twice counts once
    run = rs.send("mde_isolate_device", rows)
    (audit,) = run.audit
    assert run.returncode != 0
    assert audit["outcome"] == "refused" and audit["target_count"] == 6 and audit["cap"] == 5
    assert "cap of 5" in audit["error"]
    assert rs.calls("api") == 0 and rs.calls("token") == 0
    raised = rs.send("mde_isolate_device", rows, max_targets=6, wait_seconds=0)
    assert [a["outcome"] for a in raised.audit] == ["pending"] * 6


def test_accounts_follow_the_results_tenant_never_another(rs: ResponseScenario) -> None:
    a = rs.add_tenant("customer_a")
    b = rs.add_tenant("customer_b")
    orphan = rs.stack.microsoft.add_tenant()  # a tenant the MSSP has no account for
    ma = rs.stack.microsoft.add_machine(a.tenant_id, "a-pc.a.example")
    mb = rs.stack.microsoft.add_machine(b.tenant_id, "b-pc.b.example")
    run = rs.send(
        "mde_run_antivirus_scan",
        [
            alert_row(rs, "customer_a", ma),
            {"vendor_account": b.tenant_id, "dest": mb["computerDnsName"]},  # CIM names
            {"Alerts.vendor_account": orphan.tenant_id, "Alerts.dest": "x-pc"},  # data model names
            {"dest": "no-tenant-pc"},
            {"aadTenantId": a.tenant_id, "machineId": mb["id"]},  # customer B's device in A's result
        ],
        wait_seconds=0,
    )
    by_target = {audit["target"]: audit for audit in run.audit}
    assert f"not in tenant {a.tenant_id} (404" in by_target[mb["id"]]["error"]
    assert by_target["a-pc.a.example"]["account"] == "customer_a"
    assert by_target["b-pc.b.example"]["account"] == "customer_b"
    assert f"no account serves tenant {orphan.tenant_id}" in by_target["x-pc"]["error"]
    assert "no tenant" in by_target["no-tenant-pc"]["error"]
    scans = [r for r in posts(rs) if r.path.endswith("/runAntiVirusScan")]
    assert sorted(r.tenant for r in scans) == sorted([a.tenant_id, b.tenant_id])
    assert all(r.tenant in (a.tenant_id, b.tenant_id) for r in rs.stack.microsoft.requests if r.kind == "api")
    narrowed = rs.send("mde_run_antivirus_scan", [alert_row(rs, "customer_b", mb)], account="customer_a")
    assert narrowed.audit[0]["outcome"] == "refused" and "another tenant" in narrowed.audit[0]["error"]
    assert len(scans) == len([r for r in posts(rs) if r.path.endswith("/runAntiVirusScan")])


def test_device_names_unknown_or_ambiguous_are_refused(rs: ResponseScenario) -> None:
    tenant = rs.add_tenant()
    one = rs.stack.microsoft.add_machine(tenant.tenant_id, "twin.contoso.com")
    two = rs.stack.microsoft.add_machine(tenant.tenant_id, "twin.contoso.com")
    rs.stack.microsoft.add_machine(tenant.tenant_id, "solo.contoso.com")
    run = rs.send(
        "mde_isolate_device",
        [
            {"aadTenantId": tenant.tenant_id, "computerDnsName": "twin.contoso.com"},
            {"aadTenantId": tenant.tenant_id, "dest": "ghost.contoso.com"},
            {"aadTenantId": tenant.tenant_id, "dest": "solo"},  # a short name finds solo.contoso.com
        ],
        wait_seconds=0,
    )
    by_target = {audit["target"]: audit for audit in run.audit}
    twin = by_target["twin.contoso.com"]
    assert twin["outcome"] == "refused" and one["id"] in twin["error"] and two["id"] in twin["error"]
    assert "computerDnsName eq 'ghost.contoso.com'" in by_target["ghost.contoso.com"]["error"]
    assert by_target["solo.contoso.com"]["outcome"] == "pending"
    assert len(posts(rs)) == 1


def test_a_missing_permission_is_named(rs: ResponseScenario) -> None:
    tenant = rs.add_tenant(roles=tuple(r for r in ALL_ROLES if r != "Machine.Isolate"))
    machine = rs.stack.microsoft.add_machine(tenant.tenant_id, "pc.contoso.com")
    run = rs.send("mde_isolate_device", [alert_row(rs, ACCOUNT, machine)])
    (audit,) = run.audit
    assert audit["outcome"] == "failed" and "403" in audit["error"] and "Machine.Isolate" in audit["error"]
    assert run.returncode != 0
    no_read = rs.add_tenant("reader_less", roles=("Machine.Isolate",))
    other = rs.stack.microsoft.add_machine(no_read.tenant_id, "pc.other.example")
    run = rs.send("mde_isolate_device", [alert_row(rs, "reader_less", other)])
    assert "Machine.Read.All" in run.audit[0]["error"]
    users = rs.add_tenant("no_graph", roles=("Machine.Read.All", "User.Read.All"))
    rs.stack.microsoft.add_user(users.tenant_id, "eve@fabrikam.example")
    run = rs.send("mde_disable_user", [{"aadTenantId": users.tenant_id, "user": "eve@fabrikam.example"}])
    assert "User.EnableDisableAccount.All" in run.audit[0]["error"] and "Microsoft Graph" in run.audit[0]["error"]
    no_secret(rs)


def test_who_may_run_actions(rs: ResponseScenario) -> None:
    tenant = rs.add_tenant()
    machine = rs.stack.microsoft.add_machine(tenant.tenant_id, "pc.contoso.com")
    splunkd = rs.stack.splunkd
    assert splunkd is not None
    responder = splunkd.add_user("rita", ["defender_responder"])
    run = rs.send("mde_run_antivirus_scan", [alert_row(rs, ACCOUNT, machine)], session_key=responder, wait_seconds=0)
    assert run.audit[0]["outcome"] == "pending" and run.audit[0]["requested_by"] == "rita"
    calls = rs.calls()
    splunkd.add_role("secret_reader", ["user"], ["list_storage_passwords"])
    reader = splunkd.add_user("sam", ["secret_reader"])
    run = rs.send("mde_isolate_device", [alert_row(rs, ACCOUNT, machine)], session_key=reader)
    (audit,) = run.audit
    assert audit["outcome"] == "not_permitted" and "defender_endpoint_response" in audit["error"]
    assert "defender_responder" in audit["error"] and run.returncode != 0
    assert run.events[0].index == "cim_modactions"  # refusals are audited where the successes are
    analyst = splunkd.add_user("ann", ["user"])  # cannot even read the add-on's settings
    run = rs.send("mde_isolate_device", [alert_row(rs, ACCOUNT, machine)], session_key=analyst)
    assert run.returncode != 0 and "User does not have permissions" in run.log
    assert rs.calls() == calls and rs.calls("token") == 1


def test_bad_input_stops_before_any_call(rs: ResponseScenario) -> None:
    tenant = rs.add_tenant()
    machine = rs.stack.microsoft.add_machine(tenant.tenant_id, "pc.contoso.com")
    row = alert_row(rs, ACCOUNT, machine)
    bad = rs.send("mde_isolate_device", [row], isolation_type="Partial")
    assert (
        bad.returncode != 0 and "isolation_type" in bad.audit[0]["error"] and "Full, Selective" in bad.audit[0]["error"]
    )
    capped = rs.send("mde_isolate_device", [row], max_targets="many")
    assert "max_targets" in capped.audit[0]["error"]
    empty = rs.send("mde_isolate_device", [])
    assert empty.returncode == 0 and empty.audit[0]["outcome"] == "nothing_to_do"
    assert rs.calls() == 0 and rs.calls("token") == 0


def test_update_an_alert_then_the_input_collects_its_new_state(rs: ResponseScenario) -> None:
    tenant = rs.add_tenant()
    collector = Scenario(rs.stack, rs.app_dir, rs.python, rs.work, tenant=tenant)
    (alert,) = rs.alerts(ACCOUNT, 1, status="New")
    first = collector.run()
    assert [json.loads(e["data"])["status"] for e in first.events] == ["New"]
    notable = {"orig_sid": "scheduler__admin__SplunkEnterpriseSecuritySuite__RMD5_notable", "orig_rid": "7"}
    run = rs.send(
        "mde_update_alert",
        [{"Alerts.id": alert["id"], "Alerts.vendor_account": tenant.tenant_id, **notable}],
        status="Resolved",
        classification="TruePositive",
        determination="Malware",
        assigned_to="rita@contoso.example",
        comment="contained by the SOC",
    )
    (audit,) = run.audit
    assert audit["outcome"] == "succeeded" and audit["alert_ids"] == [alert["id"]], audit
    assert (run.events[0].orig_sid, run.events[0].orig_rid) == (notable["orig_sid"], "7")  # ES links it to the notable
    second = collector.run()
    (event,) = second.events
    state = json.loads(event["data"])
    assert state["status"] == "Resolved" and state["classification"] == "TruePositive"
    assert state["assignedTo"] == "rita@contoso.example" and state["lastUpdateTime"] != alert["lastUpdateTime"]
    assert state["comments"][-1]["comment"].startswith("contained by the SOC (Splunk: search")
    missing = rs.send("mde_update_alert", [{"id": "da000", "aadTenantId": tenant.tenant_id}], status="Resolved")
    assert missing.audit[0]["outcome"] == "refused" and "not in tenant" in missing.audit[0]["error"]


def test_entra_id_user_actions(rs: ResponseScenario) -> None:
    tenant = rs.add_tenant()
    ms = rs.stack.microsoft
    eve = ms.add_user(tenant.tenant_id, "eve@contoso.example", sam="eve")
    ms.add_user(tenant.tenant_id, "eve2@contoso.example", sam="eve2")
    row = {"aadTenantId": tenant.tenant_id, "relatedUser.userName": "eve", "relatedUser.domainName": "CONTOSO"}
    disabled = rs.send("mde_disable_user", [row])
    (audit,) = disabled.audit
    assert audit["outcome"] == "succeeded" and audit["final_status"] == "Disabled" and audit["sessions_revoked"]
    assert audit["target_user"] == "eve@contoso.example"
    assert eve["accountEnabled"] is False and eve["_revoked"] == 1
    again = rs.send("mde_disable_user", [row], revoke_sessions="0")
    assert "already disabled" in again.audit[0]["error"] and eve["_revoked"] == 1
    enabled = rs.send("mde_enable_user", [{"vendor_account": tenant.tenant_id, "user": "eve@contoso.example"}])
    assert enabled.audit[0]["final_status"] == "Enabled" and eve["accountEnabled"] is True
    revoked = rs.send("mde_revoke_user_sessions", [{"aadTenantId": tenant.tenant_id}], user=eve["id"])
    assert revoked.audit[0]["outcome"] == "succeeded" and eve["_revoked"] == 2
    nobody = rs.send("mde_disable_user", [{"aadTenantId": tenant.tenant_id, "user": "CONTOSO\\mallory"}])
    assert nobody.audit[0]["outcome"] == "refused" and "mallory" in nobody.audit[0]["error"]
    graph = [r for r in ms.requests if r.kind == "graph"]
    assert graph and all(r.host == "graph.microsoft.com" for r in graph)
    scopes = [r.scope or "" for r in ms.requests if r.kind == "token"]
    assert scopes and all("https://graph.microsoft.com/.default" in s for s in scopes)
    no_secret(rs)
