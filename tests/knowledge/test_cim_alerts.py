"""The add-on's CIM Alerts mapping for ms:defender:atp:alerts, proven on every real alert sample.

Each alert of tests/data/samples is written as the modular input writes it and run through the
offline Splunk model (splunk_search_time.py) with the add-on's own props/transforms/eventtypes/tags
and lookup. Expected values come from the alert itself through the rules of docs/CIM.md (written
out independently below), plus concrete values for specific real alerts. Synthetic variants are
real alerts with one documented change, for cases the samples do not cover.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import json
import re
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

from tests.knowledge.alert_samples import (
    REPO_ROOT,
    SAMPLES_DIR,
    SOURCETYPE,
    Alert,
    compact,
    load_alert_file,
    sample_alerts,
)
from tests.knowledge.splunk_search_time import Fields, Knowledge, first

SAMPLES = sample_alerts()
SAMPLE_IDS = [f"{name.split('-')[0]}:{alert['id']}" for name, alert in SAMPLES]

# CIM Alerts (docs/FACTS.md section 6).
REQUIRED = ("app", "description", "dest", "id", "severity", "signature", "signature_id", "src", "type", "user")
SEVERITIES = {"critical", "high", "medium", "low", "informational", "unknown"}
TYPES = {"alarm", "alert", "event", "task", "warning", "unknown"}

# The Defender severities (docs/FACTS.md section 1) and the CIM value each must become.
DEFENDER_SEVERITY = {
    "UnSpecified": "unknown",
    "Informational": "informational",
    "Low": "low",
    "Medium": "medium",
    "High": "high",
}

IMPACKET = "da47dc5671-e560-4229-984b-457564996b31_1"
DOCS_NO_DETECTOR = "da637308392288907382_-880718168"
DOCS_WITH_EVIDENCE = "da637472900382838869_1364969609"
ELASTIC_MALWARE_NO_USER = "da637291085411733957_-1043898914"
ELASTIC_INJECTION = "da637291048912199236_1126926584"


def alert_by_id(alert_id: str) -> Alert:
    for _, alert in SAMPLES:
        if alert["id"] == alert_id:
            return copy.deepcopy(alert)
    raise KeyError(alert_id)


def search(knowledge: Knowledge, alert: Alert, extraction_cutoff: int | None = None) -> Fields:
    return knowledge.search(compact(alert), SOURCETYPE, extraction_cutoff=extraction_cutoff)


def given(value: Any) -> str | None:
    """A raw value as the rules count it: JSON null and empty text are absent (None)."""
    return value if isinstance(value, str) and value != "" else None


def expected_user(alert: Alert) -> str:
    """docs/CIM.md's user rule, written independently of props.conf."""
    related = alert.get("relatedUser") or {}
    name, domain = given(related.get("userName")), given(related.get("domainName"))
    if name:
        return name if "@" in name or not domain else f"{domain}\\{name}"
    users = [item for item in alert.get("evidence") or [] if item.get("entityType") == "User"]
    if users:
        account, domain = given(users[0].get("accountName")), given(users[0].get("domainName"))
        upn = given(users[0].get("userPrincipalName"))
        if account and domain:
            return f"{domain}\\{account}"
        return upn or account or "unknown"
    return "unknown"


def expected_user_name(alert: Alert) -> str | None:
    related = alert.get("relatedUser") or {}
    users = [item for item in alert.get("evidence") or [] if item.get("entityType") == "User"]
    user = users[0] if users else {}
    return given(related.get("userName")) or given(user.get("accountName")) or given(user.get("userPrincipalName"))


def expected_dest(alert: Alert) -> str:
    return given(alert.get("computerDnsName")) or given(alert.get("machineId")) or "unknown"


# ---- every real alert --------------------------------------------------------------------


def test_samples_cover_every_shape() -> None:
    assert {name for name, _ in SAMPLES} == {
        "elastic-pipeline-alerts.json",
        "mde-docs-list-alerts.json",
        "security-content-impacket-alert.json",
    }
    assert len(SAMPLES) == 6
    assert len({alert["id"] for _, alert in SAMPLES}) == 6


def test_samples_are_unchanged_copies() -> None:
    """The samples must stay byte-for-byte what PROVENANCE.md records."""
    provenance = (SAMPLES_DIR / "PROVENANCE.md").read_text(encoding="utf-8")
    recorded = dict(re.findall(r"^\| `([^`]+\.json)` \| `([0-9a-f]{64})` \|", provenance, flags=re.MULTILINE))
    actual = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in SAMPLES_DIR.glob("*.json")}
    assert recorded == actual


@pytest.mark.parametrize(("name", "alert"), SAMPLES, ids=SAMPLE_IDS)
def test_every_required_cim_field_is_set_and_allowed(knowledge: Knowledge, name: str, alert: Alert) -> None:
    fields = search(knowledge, alert)
    for required in REQUIRED:
        values = fields.get(required)
        assert values is not None and len(values) == 1, f"{required}: {values!r}"
        assert values[0] not in ("", "null"), f"{required} = {values[0]!r}"
    assert first(fields, "severity") in SEVERITIES
    assert first(fields, "type") in TYPES
    assert fields["eventtype"] == ["ms_defender_atp_alerts"]
    assert fields["tag"] == ["alert"]


@pytest.mark.parametrize(("name", "alert"), SAMPLES, ids=SAMPLE_IDS)
def test_cim_values_follow_the_documented_rules(knowledge: Knowledge, name: str, alert: Alert) -> None:
    fields = search(knowledge, alert)
    assert first(fields, "app") == "Microsoft Defender for Endpoint"
    assert first(fields, "vendor_product") == "Microsoft Defender for Endpoint"
    assert first(fields, "vendor") == "Microsoft"
    assert first(fields, "type") == "alert"
    assert first(fields, "dest_type") == "endpoint"
    assert first(fields, "id") == alert["id"]
    assert first(fields, "description") == alert["description"]
    assert first(fields, "signature") == alert["title"]
    assert first(fields, "signature_id") == (alert.get("detectorId") or alert["title"])
    assert first(fields, "severity") == DEFENDER_SEVERITY[alert["severity"]]
    assert first(fields, "vendor_severity") == alert["severity"]
    assert first(fields, "user") == expected_user(alert)
    assert first(fields, "user_name") == expected_user_name(alert)
    assert fields.get("mitre_technique_id") == (list(dict.fromkeys(alert.get("mitreTechniques") or [])) or None)
    assert first(fields, "vendor_account") == alert["aadTenantId"]
    assert "vendor_region" not in fields  # the alert does not say where the tenant's data lives


@pytest.mark.parametrize(("name", "alert"), SAMPLES, ids=SAMPLE_IDS)
def test_dest_and_src_are_the_device_never_the_tenant(knowledge: Knowledge, name: str, alert: Alert) -> None:
    fields = search(knowledge, alert)
    assert first(fields, "dest") == expected_dest(alert)
    assert first(fields, "src") == first(fields, "dest")
    assert first(fields, "dest") != alert["aadTenantId"]


@pytest.mark.parametrize(("name", "alert"), SAMPLES, ids=SAMPLE_IDS)
def test_raw_fields_keep_their_api_names(knowledge: Knowledge, name: str, alert: Alert) -> None:
    """security_content reads title, computerDnsName, evidence{}.*, mitreTechniques{} ... unchanged."""
    fields = search(knowledge, alert)
    for key in ("id", "title", "description", "category", "status", "detectionSource", "computerDnsName", "machineId"):
        if isinstance(alert.get(key), str):
            assert first(fields, key) == alert[key], key
    evidence = alert.get("evidence") or []
    if evidence:
        assert fields["evidence{}.entityType"] == [item["entityType"] for item in evidence]
        assert fields["evidence{}.fileName"] == [item["fileName"] or "null" for item in evidence]
    if alert.get("mitreTechniques"):
        assert fields["mitreTechniques{}"] == alert["mitreTechniques"]
    if isinstance(alert.get("relatedUser"), dict):
        assert first(fields, "relatedUser.userName") == alert["relatedUser"]["userName"]


@pytest.mark.parametrize(("name", "alert"), SAMPLES, ids=SAMPLE_IDS)
def test_cim_fields_do_not_depend_on_json_beyond_splunks_extraction_cutoff(
    knowledge: Knowledge, name: str, alert: Alert
) -> None:
    """Splunk's automatic JSON extraction reads the first 5000 bytes ([spath] extraction_cutoff)."""
    full = search(knowledge, alert)
    cut = search(knowledge, alert, extraction_cutoff=5000)
    for cim_field in (*REQUIRED, "severity_id", "user_name", "mitre_technique_id", "vendor_account"):
        assert cut.get(cim_field) == full.get(cim_field), cim_field


def test_evals_never_read_each_others_results(knowledge: Knowledge) -> None:
    """Splunk computes every EVAL of a stanza from the fields before the EVAL step."""
    assert knowledge.sourcetype(SOURCETYPE).eval_cross_references() == {}


# ---- concrete real alerts ----------------------------------------------------------------


def test_impacket_alert(knowledge: Knowledge) -> None:
    fields = search(knowledge, alert_by_id(IMPACKET))
    assert first(fields, "dest") == "diytestmachine"
    assert first(fields, "src") == "diytestmachine"
    assert first(fields, "user") == "DIYTESTMACHINE\\User1"
    assert first(fields, "user_name") == "User1"
    assert first(fields, "severity") == "high"
    assert first(fields, "severity_id") == "4"
    assert fields["mitre_technique_id"] == ["T1021.002", "T1047", "T1059.003"]
    assert first(fields, "signature") == "Ongoing hands-on-keyboard attack via Impacket toolkit"
    assert first(fields, "signature_id") == "9c3a70ec-e18a-4f92-865a-530f73130b7c"
    assert first(fields, "vendor_account") == "1a492129-58c8-4011-91cd-245285f5345c"


def test_alert_without_detector_id_uses_its_title_as_signature_id(knowledge: Knowledge) -> None:
    fields = search(knowledge, alert_by_id(DOCS_NO_DETECTOR))
    assert first(fields, "signature_id") == "Suspicious 'Meterpreter' behavior was detected"
    assert first(fields, "user") == "DOMAIN\\temp123"
    assert first(fields, "dest") == "temp123.middleeast.corp.microsoft.com"


def test_alerts_without_any_user(knowledge: Knowledge) -> None:
    """relatedUser null and no User evidence: user is "unknown", user_name stays unset."""
    fields = search(knowledge, alert_by_id(ELASTIC_MALWARE_NO_USER))
    assert first(fields, "user") == "unknown"
    assert "user_name" not in fields
    assert "mitre_technique_id" not in fields
    assert first(fields, "severity") == "low"


def test_elastic_alert_with_related_user(knowledge: Knowledge) -> None:
    fields = search(knowledge, alert_by_id(ELASTIC_INJECTION))
    assert first(fields, "user") == "TestServer4\\administrator1"
    assert first(fields, "severity") == "medium"
    assert first(fields, "severity_id") == "3"
    assert first(fields, "dest") == "testserver4"


# ---- synthetic variants of real alerts ----------------------------------------------------


def test_dest_falls_back_to_machine_id(knowledge: Knowledge) -> None:
    alert = alert_by_id(IMPACKET)
    del alert["computerDnsName"]
    fields = search(knowledge, alert)
    assert first(fields, "dest") == "302293d9f276eae65553e5042156bce93cbc7148"
    assert first(fields, "src") == "302293d9f276eae65553e5042156bce93cbc7148"


def test_dest_falls_back_to_machine_id_when_dns_name_is_null(knowledge: Knowledge) -> None:
    alert = alert_by_id(IMPACKET)
    alert["computerDnsName"] = None
    assert first(search(knowledge, alert), "dest") == alert["machineId"]


def test_dest_without_any_device_is_unknown_not_the_tenant(knowledge: Knowledge) -> None:
    alert = alert_by_id(IMPACKET)
    alert["computerDnsName"] = None
    del alert["machineId"]
    fields = search(knowledge, alert)
    assert first(fields, "dest") == "unknown"
    assert first(fields, "src") == "unknown"


@pytest.mark.parametrize(
    ("severity", "cim", "severity_id"),
    [
        ("UnSpecified", "unknown", "0"),
        ("Unspecified", "unknown", "0"),  # the table matches without regard to case
        ("HIGH", "high", "4"),
        ("Informational", "informational", "1"),
        ("Low", "low", "2"),
        ("Medium", "medium", "3"),
        ("High", "high", "4"),
        ("SomethingNew", "unknown", "0"),  # a value the table does not know yet
        (None, "unknown", "0"),
    ],
)
def test_severity_lookup(knowledge: Knowledge, severity: str | None, cim: str, severity_id: str) -> None:
    alert = alert_by_id(IMPACKET)
    alert["severity"] = severity
    fields = search(knowledge, alert)
    assert first(fields, "severity") == cim
    assert first(fields, "severity_id") == severity_id
    assert first(fields, "vendor_severity") == (severity or "UnSpecified")


def test_missing_severity_is_unknown(knowledge: Knowledge) -> None:
    alert = alert_by_id(IMPACKET)
    del alert["severity"]
    fields = search(knowledge, alert)
    assert first(fields, "severity") == "unknown"
    assert first(fields, "severity_id") == "0"


def test_user_from_the_user_evidence_item_not_from_other_items(knowledge: Knowledge) -> None:
    """Without relatedUser the first User item counts; the impacket alert's first item is a Process
    run as NT AUTHORITY\\NETWORK SERVICE, which must not be taken."""
    alert = alert_by_id(IMPACKET)
    alert["relatedUser"] = None
    assert alert["evidence"][0]["entityType"] == "Process"
    fields = search(knowledge, alert)
    assert first(fields, "user") == "DIYTESTMACHINE\\User1"
    assert first(fields, "user_name") == "User1"


def test_user_from_evidence_when_related_user_is_missing(knowledge: Knowledge) -> None:
    alert = alert_by_id(DOCS_WITH_EVIDENCE)
    del alert["relatedUser"]
    fields = search(knowledge, alert)
    assert first(fields, "user") == "DOMAIN\\name"
    assert first(fields, "user_name") == "name"


def test_user_principal_name_from_evidence_when_domain_is_missing(knowledge: Knowledge) -> None:
    alert = alert_by_id(DOCS_WITH_EVIDENCE)
    alert["relatedUser"] = None
    alert["evidence"][0]["domainName"] = None
    assert first(search(knowledge, alert), "user") == "temp123@microsoft.com"


def test_related_user_given_as_upn(knowledge: Knowledge) -> None:
    alert = alert_by_id(DOCS_WITH_EVIDENCE)
    alert["relatedUser"] = {"userName": "jane@contoso.com", "domainName": "CONTOSO"}
    fields = search(knowledge, alert)
    assert first(fields, "user") == "jane@contoso.com"
    assert first(fields, "user_name") == "jane@contoso.com"


def test_related_user_without_domain(knowledge: Knowledge) -> None:
    alert = alert_by_id(DOCS_WITH_EVIDENCE)
    alert["relatedUser"] = {"userName": "temp123", "domainName": None}
    assert first(search(knowledge, alert), "user") == "temp123"


def test_non_ascii_user_is_kept(knowledge: Knowledge) -> None:
    alert = alert_by_id(IMPACKET)
    alert["relatedUser"] = {"userName": "J\u00fcrgen", "domainName": "M\u00dcNCHEN"}
    assert first(search(knowledge, alert), "user") == "M\u00dcNCHEN\\J\u00fcrgen"


def test_mitre_techniques_are_deduplicated_and_absent_when_empty(knowledge: Knowledge) -> None:
    alert = alert_by_id(IMPACKET)
    alert["mitreTechniques"] = ["T1047", "T1059.003", "T1047"]
    assert search(knowledge, alert)["mitre_technique_id"] == ["T1047", "T1059.003"]
    alert["mitreTechniques"] = ["T1047"]
    assert search(knowledge, alert)["mitre_technique_id"] == ["T1047"]
    alert["mitreTechniques"] = []
    assert "mitre_technique_id" not in search(knowledge, alert)


def test_user_evidence_beyond_the_extraction_cutoff_degrades_to_unknown(knowledge: Knowledge) -> None:
    """Documents a limit: evidence past Splunk's 5000-byte automatic JSON extraction is not seen at
    search time, so an alert naming its user only there gets "unknown" -- never another item's user."""
    alert = alert_by_id(IMPACKET)
    alert["relatedUser"] = None
    user_item = alert["evidence"].pop(1)
    alert["evidence"].append(user_item)  # now the last of nine items, beyond byte 5000
    assert compact(alert).find('"entityType":"User"') > 5000
    assert first(search(knowledge, alert), "user") == "DIYTESTMACHINE\\User1"
    assert first(search(knowledge, alert, extraction_cutoff=5000), "user") == "unknown"


# ---- the lookup table --------------------------------------------------------------------


def test_severity_table_maps_exactly_the_defender_values() -> None:
    with (REPO_ROOT / "package" / "lookups" / "ms_defender_atp_alert_severity.csv").open(
        encoding="utf-8", newline=""
    ) as handle:
        rows = list(csv.DictReader(handle))
    assert {row["vendor_severity"]: row["severity"] for row in rows} == DEFENDER_SEVERITY
    assert len({row["vendor_severity"].lower() for row in rows}) == len(rows)
    ordered = sorted(rows, key=lambda row: int(row["severity_id"]))
    assert [row["severity"] for row in ordered] == ["unknown", "informational", "low", "medium", "high"]


# ---- index time ----------------------------------------------------------------------------


def expected_epoch(timestamp: str) -> Decimal:
    """Seconds since the epoch of a Defender timestamp, computed without props.conf."""
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,7}))?Z", timestamp)
    assert match, timestamp
    whole = datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return Decimal(int(whole.timestamp())) + Decimal("0." + (match.group(2) or "0"))


@pytest.mark.parametrize("separator", ["\n", "\r\n"])
def test_stream_breaks_into_one_event_per_alert_with_its_time(knowledge: Knowledge, separator: str) -> None:
    alerts = [alert for _, alert in SAMPLES]
    events = knowledge.index(separator.join(compact(alert) for alert in alerts), SOURCETYPE)
    assert [event.raw for event in events] == [compact(alert) for alert in alerts]
    assert not any(event.truncated for event in events)
    assert [event.time for event in events] == [expected_epoch(alert["lastUpdateTime"]) for alert in alerts]


@pytest.mark.parametrize(
    "timestamp", ["2021-01-26T20:33:59.2Z", "2024-03-01T10:00:44.7733333Z", "2020-07-20T10:53:50.19Z"]
)
def test_timestamps_with_1_to_7_fraction_digits(knowledge: Knowledge, timestamp: str) -> None:
    alert = alert_by_id(IMPACKET)
    alert["lastUpdateTime"] = timestamp
    assert knowledge.timestamp(compact(alert), SOURCETYPE) == expected_epoch(timestamp)


def test_time_prefix_ignores_the_same_text_inside_a_string(knowledge: Knowledge) -> None:
    alert = alert_by_id(IMPACKET)
    alert["comments"] = [
        {"comment": '"lastUpdateTime":"1999-01-01T00:00:00.1Z"', "createdBy": "x", "createdTime": None}
    ]
    alert["title"] = 'see "lastUpdateTime":"1999-01-01T00:00:00.1Z"'
    raw = compact(alert)
    assert raw.index("1999") < raw.index(alert["lastUpdateTime"])
    assert knowledge.timestamp(raw, SOURCETYPE) == expected_epoch(alert["lastUpdateTime"])


def test_alert_with_hundreds_of_evidence_items_is_one_whole_event(knowledge: Knowledge) -> None:
    alert = alert_by_id(IMPACKET)
    alert["evidence"] = alert["evidence"] * 100
    raw = compact(alert)
    assert 10000 < len(raw.encode("utf-8")) < 1000000  # Splunk's default TRUNCATE would cut it
    events = knowledge.index(raw + "\n" + compact(alert_by_id(DOCS_NO_DETECTOR)), SOURCETYPE)
    assert [event.raw for event in events] == [raw, compact(alert_by_id(DOCS_NO_DETECTOR))]
    assert not events[0].truncated
    assert json.loads(events[0].raw) == alert


def test_sample_files_load_as_the_input_writes_them() -> None:
    impacket = load_alert_file(SAMPLES_DIR / "security-content-impacket-alert.json")
    assert len(impacket) == 1 and impacket[0]["id"] == IMPACKET
    assert len(load_alert_file(SAMPLES_DIR / "mde-docs-list-alerts.json")) == 2
    assert len(load_alert_file(SAMPLES_DIR / "elastic-pipeline-alerts.json")) == 3
    raw = compact(impacket[0])
    assert "\n" not in raw and "\r" not in raw  # JSON escapes line ends inside strings
    assert json.loads(raw) == json.loads(
        (SAMPLES_DIR / "security-content-impacket-alert.json").read_text(encoding="utf-8")
    )
