"""The response actions' audit events (sourcetype ms:defender:atp:action) in the CIM Change data model.

The events are made by the add-on's own code (`mde_alerts.response.Attempt.event`, what the
actions write), then given their search-time fields by the package's props/eventtypes/tags
through the same Splunk model as the alerts' CIM tests (docs/CIM.md, "Response action audit
events").
"""

from __future__ import annotations

import json
import sys

import pytest

from tests.knowledge.splunk_search_time import Knowledge

from .alert_samples import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "package" / "bin"))
from mde_alerts.response import Attempt  # noqa: E402

ST = "ms:defender:atp:action"
MACHINE = "3348d9b56db544679be2c2eda194659829fa9c48"
TENANT = "2860a6f2-5d55-43df-99df-a58327ee9c8b"
CHANGE_ACTIONS = {"acl_modified", "cleared", "created", "deleted", "modified", "read", "stopped", "updated"}


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    return Knowledge.from_app(REPO_ROOT / "package" / "default", REPO_ROOT / "package" / "lookups")


def audit(**kwargs: object) -> str:
    attempt = Attempt(**kwargs)  # type: ignore[arg-type]
    event = attempt.event(
        action_name="mde_isolate_device", requested_by="rita", search_name="High", sid="1.2", comment="c", app="TA"
    )
    return json.dumps(event, separators=(",", ":"), sort_keys=True)


def one(fields: dict[str, list[str]], name: str) -> str:
    (value,) = fields[name]
    return value


def test_an_isolation_is_a_successful_device_change(knowledge: Knowledge) -> None:
    raw = audit(
        action="isolate", outcome="succeeded", kind="machine", target="pc1.contoso.com", tenant=TENANT,
        machine_id=MACHINE, device_name="pc1.contoso.com", machine_action_id="ma1", status="Succeeded",
        alert_ids=["da1"],
    )  # fmt: skip
    fields = knowledge.search(raw, ST)
    assert one(fields, "action") == "modified" and one(fields, "status") == "success"
    assert one(fields, "change_type") == "EDR" and one(fields, "object_category") == "device"
    assert one(fields, "dest") == "pc1.contoso.com" and one(fields, "object_id") == MACHINE
    assert one(fields, "object") == "pc1.contoso.com" and one(fields, "result") == "succeeded"
    assert one(fields, "result_id") == "ma1" and one(fields, "user") == "rita"
    assert one(fields, "command") == "isolate" and one(fields, "vendor_account") == TENANT
    assert one(fields, "vendor_product") == "Microsoft Defender for Endpoint"
    assert one(fields, "final_status") == "Succeeded"


def test_refusals_and_failures_are_failures_and_alert_updates_are_updates(knowledge: Knowledge) -> None:
    refused = knowledge.search(audit(action="isolate", outcome="refused", error="over the cap"), ST)
    assert one(refused, "status") == "failure" and one(refused, "dest") == "unknown"
    failed = knowledge.search(audit(action="isolate", outcome="failed", kind="machine", machine_id=MACHINE), ST)
    assert one(failed, "status") == "failure" and one(failed, "dest") == MACHINE
    update = knowledge.search(audit(action="update_alert", outcome="succeeded", kind="alert", alert_ids=["da9"]), ST)
    assert one(update, "action") == "updated" and one(update, "object_id") == "da9"
    user = knowledge.search(audit(action="disable_user", outcome="succeeded", kind="user", user="eve@c.example"), ST)
    assert one(user, "change_type") == "AAA" and one(user, "object_category") == "user"
    for fields in (refused, failed, update, user):
        assert set(fields["action"]) <= CHANGE_ACTIONS and set(fields["status"]) <= {"success", "failure"}


def test_audit_events_are_tagged_for_change_and_adaptive_response(knowledge: Knowledge) -> None:
    raw = audit(action="isolate", outcome="pending", kind="machine", machine_id=MACHINE)
    fields = knowledge.search(raw, ST)
    eventtypes = set(fields.get("eventtype", []))
    assert {"ms_defender_atp_action", "mde_isolate_device_modaction_result"} <= eventtypes
    assert "mde_release_device_modaction_result" not in eventtypes
    assert {"change", "modaction_result"} <= set(fields.get("tag", []))
