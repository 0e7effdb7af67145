"""The response actions' pure rules: parameters, targets from any naming, account choice, cap,
repeats and the audit event (mde_alerts.response), and that the package declares every action
consistently (globalConfig, alert permissions, ES result event types)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mde_alerts import response
from mde_alerts.response import ACTIONS, BadParameter, Params, choose_account, collect_targets, parse_params

ROOT = Path(__file__).resolve().parents[2]
TENANT = "2860a6f2-5d55-43df-99df-a58327ee9c8b"
OTHER = "11111111-2222-3333-4444-555555555555"
MACHINE = "3348d9b56db544679be2c2eda194659829fa9c48"


def params(action: str = "mde_isolate_device", **config: Any) -> Params:
    return parse_params(action, config, search_name="High alerts", sid="sid1", user="rita")


def targets(rows: list[dict[str, Any]], p: Params | None = None) -> list[response.Target]:
    return collect_targets([(str(i), row) for i, row in enumerate(rows)], p or params())


def test_parameters_are_checked_and_defaulted() -> None:
    p = params()
    assert p.cap == 5 and p.wait_seconds == 240 and p.body == {"IsolationType": "Full"}
    assert p.comment == "Splunk: search 'High alerts', sid sid1, requested by rita"
    assert params(isolation_type="selective").body == {"IsolationType": "Selective"}
    assert params("mde_run_antivirus_scan").body == {"ScanType": "Quick"}
    assert params(comment="contain").comment.startswith("contain (Splunk: search 'High alerts'")
    for bad in ({"isolation_type": "Partial"}, {"max_targets": "0"}, {"max_targets": "101"}, {"wait_seconds": "999"}):
        with pytest.raises(BadParameter, match="param"):
            params(**bad)
    with pytest.raises(BadParameter, match="Unknown response action"):
        params("mde_delete_tenant")
    update = params("mde_update_alert", status="resolved", classification="TruePositive", assigned_to="a@b.c")
    assert update.body == {
        "status": "Resolved",
        "classification": "TruePositive",
        "assignedTo": "a@b.c",
        "comment": update.comment,
    }
    with pytest.raises(BadParameter, match="determination"):
        params("mde_update_alert", determination="Aliens")


def test_targets_from_raw_cim_and_data_model_names() -> None:
    raw, cim, model = targets(
        [
            {"aadTenantId": TENANT, "machineId": MACHINE, "computerDnsName": "pc1.contoso.com", "id": "da1"},
            {"vendor_account": TENANT, "dest": "pc2.contoso.com", "id": "da2"},
            {"Alerts.vendor_account": TENANT.upper(), "Alerts.dest": "pc3", "Alerts.id": "da3"},
            {"aadTenantId": TENANT, "dest": MACHINE.upper()},  # CIM dest falls back to the machine id
        ]
    )
    assert (raw.machine_id, raw.device_name, raw.alert_ids, raw.problem) == (MACHINE, "pc1.contoso.com", ["da1"], "")
    assert (cim.device_name, cim.tenant, cim.alert_ids) == ("pc2.contoso.com", TENANT, ["da2"])
    assert (model.device_name, model.tenant, model.alert_ids) == ("pc3", TENANT, ["da3"])
    assert raw.rids == ["0", "3"]  # the same device, named by its id in CIM dest
    explicit = targets([{"aadTenantId": TENANT, "dest": "pc9"}], params(device="pc-explicit"))
    assert explicit[0].device_name == "pc-explicit"


def test_the_same_device_in_many_results_is_one_target() -> None:
    rows = [{"aadTenantId": TENANT, "machineId": MACHINE, "id": f"da{i}"} for i in range(50)]
    (target,) = targets(rows)
    assert len(target.rids) == 50 and len(target.alert_ids) == 50


def test_results_that_cannot_be_acted_on_say_why() -> None:
    none, bad_tenant, multi, unknown, no_device = targets(
        [
            {"dest": "pc1"},
            {"aadTenantId": "contoso", "dest": "pc2"},
            {"aadTenantId": TENANT, "__mv_dest": "$pc3$;$pc4$", "dest": "pc3\npc4"},
            {"aadTenantId": TENANT, "dest": "unknown"},
            {"aadTenantId": TENANT, "dest": "bad name!"},
        ]
    )
    assert "no tenant" in none.problem
    assert "not a directory (tenant) id" in bad_tenant.problem
    assert "2 devices" in multi.problem and "pc3, pc4" in multi.problem
    assert "names no device" in unknown.problem
    assert "not a device name" in no_device.problem


def test_users_from_related_user_upn_and_cim() -> None:
    p = params("mde_disable_user")
    related, upn, cim = targets(
        [
            {"aadTenantId": TENANT, "relatedUser.userName": "eve", "relatedUser.domainName": "CONTOSO"},
            {"aadTenantId": TENANT, "relatedUser.userName": "eve@contoso.example"},
            {"vendor_account": TENANT, "user": "CONTOSO\\bob"},
        ],
        p,
    )
    assert (related.user, upn.user, cim.user) == ("CONTOSO\\eve", "eve@contoso.example", "CONTOSO\\bob")
    assert response.user_lookup("CONTOSO\\eve") == ("sam", "eve")
    assert response.user_lookup("eve@contoso.example") == ("id", "eve@contoso.example")
    assert response.user_lookup(TENANT) == ("id", TENANT)


def test_the_account_is_always_the_results_tenants() -> None:
    accounts = {"a": TENANT, "b": OTHER, "b2": OTHER}
    assert choose_account(TENANT, accounts, "") == ("a", "")
    assert "all serve tenant" in choose_account(OTHER, accounts, "")[1]
    assert choose_account(OTHER, accounts, "b2") == ("b2", "")
    name, problem = choose_account(TENANT, accounts, "b")
    assert name == "" and "another tenant" in problem
    assert "no account serves tenant 9" in choose_account("9", accounts, "")[1]
    assert "does not exist" in choose_account(TENANT, accounts, "zzz")[1]


def test_open_actions_of_the_same_or_opposite_type_block_a_new_one() -> None:
    isolate = ACTIONS["mde_isolate_device"]
    open_isolate = {"id": "1", "type": "Isolate", "status": "Pending"}
    open_release = {"id": "2", "type": "Unisolate", "status": "InProgress"}
    done = {"id": "3", "type": "Isolate", "status": "Succeeded"}
    scan = {"id": "4", "type": "RunAntiVirusScan", "status": "Pending"}
    assert response.open_conflict([done, scan], isolate) is None
    assert response.open_conflict([done, open_isolate], isolate) == open_isolate
    assert response.open_conflict([open_release], isolate) == open_release
    assert response.open_conflict([open_isolate], ACTIONS["mde_collect_investigation_package"]) is None


def test_polling_backs_off_and_statuses_map_to_outcomes() -> None:
    delays = response.poll_delays()
    first = [next(delays) for _ in range(8)]
    assert first[:5] == [1.0, 2.0, 4.0, 8.0, 16.0] and max(first) == 30.0
    assert [
        response.outcome_of(s) for s in ("Pending", "InProgress", "Succeeded", "Failed", "TimeOut", "Cancelled")
    ] == [
        "pending",
        "pending",
        "succeeded",
        "failed",
        "failed",
        "failed",
    ]


def test_the_audit_event_drops_empty_fields_and_keeps_cim_names_free() -> None:
    attempt = response.Attempt(
        "isolate", "succeeded", kind="machine", target="pc1", machine_id=MACHINE, started=10.0, ended=12.5
    )
    event = attempt.event(
        action_name="mde_isolate_device", requested_by="rita", search_name="s", sid="1", comment="c", app="x"
    )
    assert event["duration_seconds"] == 2.5 and event["object_category"] == "device"
    assert "error" not in event and "user" not in event and "status" not in event and "action" not in event


def test_every_action_is_declared_everywhere() -> None:
    config = json.loads((ROOT / "globalConfig.json").read_text())
    names = [alert["name"] for alert in config["alerts"]]
    assert sorted(names) == sorted(ACTIONS)
    meta = (ROOT / "package" / "metadata" / "default.meta").read_text()
    eventtypes = (ROOT / "package" / "default" / "eventtypes.conf").read_text()
    tags = (ROOT / "package" / "default" / "tags.conf").read_text()
    for alert in config["alerts"]:
        name = alert["name"]
        assert alert["customScript"] == "mde_response_action"
        assert alert["adaptiveResponse"]["sourcetype"] == response.AUDIT_SOURCETYPE
        assert alert["adaptiveResponse"]["supportsAdhoc"] is True
        assert f"[alert_actions/{name}]\naccess = read : [ admin, sc_admin, {response.RESPONSE_ROLE} ]" in meta
        assert (
            f'[{name}_modaction_result]\nsearch = sourcetype="{response.AUDIT_SOURCETYPE}" action_name="{name}"'
            in eventtypes
        )
        assert f"[eventtype={name}_modaction_result]\nmodaction_result = enabled" in tags
        fields = {entity["field"] for entity in alert["entity"]}
        assert {"comment", "account", "max_targets"} <= fields
    authorize = (ROOT / "package" / "default" / "authorize.conf").read_text()
    assert f"[capability::{response.RESPONSE_CAPABILITY}]" in authorize
    assert f"[role_{response.RESPONSE_ROLE}]" in authorize
