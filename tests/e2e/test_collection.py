"""The packaged input, run as splunkd runs it, against the Microsoft and splunkd stand-ins.

Each test drives `python bin/defender_endpoint_alerts.py` (stdin XML, stdout event
stream, the package's own lib/) under Splunk's Python, with Microsoft's documented
hostnames resolved to the stand-in.
"""

from __future__ import annotations

import json
import re
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import ACCOUNT, CHECKPOINTS, SECRET, Scenario, alert_ids, iso
from tests.standins.alerts_factory import AlertFactory
from tests.standins.launcher import StandinStack
from tests.standins.microsoft import ManualClock
from tests.standins.timefmt import to_ticks

SOURCETYPE = "ms:defender:atp:alerts"


@pytest.fixture
def scenario(app_dir: Path, splunk_python: str, tmp_path: Path) -> Iterator[Scenario]:
    stack = StandinStack(tmp_path / "stack", app_default_dir=app_dir / "default").start()
    try:
        yield Scenario(stack, app_dir, splunk_python, tmp_path)
    finally:
        stack.stop()


def test_first_run_then_an_idle_rerun(scenario: Scenario) -> None:
    tenant = scenario.add_tenant()
    alerts = scenario.add_alerts(1200, days_back=3)
    old = scenario.factory.alerts(5, start=iso(time.time() - 20 * 86400), end=iso(time.time() - 10 * 86400))
    scenario.stack.microsoft.add_alerts(tenant.tenant_id, old)  # before Start: never collected

    first = scenario.run(start="7")
    assert first.returncode == 0, first.stderr
    expected = {(a["id"], a["lastUpdateTime"]) for a in alerts}
    assert Counter(alert_ids(first)) == Counter(expected)
    event = first.events[0]
    assert event["sourcetype"] == SOURCETYPE and event["index"] == "mde"
    assert event["source"] == f"defender_endpoint_alerts://{tenant.tenant_id}/prod"
    by_id = {a["id"]: a for a in scenario.stack.microsoft.visible_alerts(tenant.tenant_id)}
    for written in first.events[:50]:
        alert = json.loads(written["data"])
        assert alert == by_id[alert["id"]]  # the API's JSON, unchanged
        assert "\n" not in written["data"]
        assert abs(float(written["time"]) - to_ticks(alert["lastUpdateTime"]) / 1e7) < 1e-6
    assert scenario.checkpoint() is not None
    assert "run summary:" in scenario.log() and "events=1200" in scenario.log()

    calls_before = scenario.api_calls()
    idle = scenario.run(start="7")
    assert idle.returncode == 0
    assert idle.events == []
    assert scenario.api_calls() - calls_before == 1


def test_updates_are_new_events_and_time_can_follow_creation(scenario: Scenario) -> None:
    tenant = scenario.add_tenant()
    alerts = scenario.add_alerts(30)
    scenario.run(time_field="alertCreationTime")
    changed = scenario.stack.microsoft.update_alert(tenant.tenant_id, alerts[3]["id"], {"status": "Resolved"})
    second = scenario.run(time_field="alertCreationTime")
    assert alert_ids(second) == [(changed["id"], changed["lastUpdateTime"])]
    assert json.loads(second.events[0]["data"])["status"] == "Resolved"
    assert abs(float(second.events[0]["time"]) - to_ticks(changed["alertCreationTime"]) / 1e7) < 1e-6


def test_a_backlog_above_the_page_cap_arrives_in_one_run(scenario: Scenario) -> None:
    scenario.add_tenant()
    alerts = scenario.add_alerts(23_000)
    result = scenario.run(timeout=600)
    assert result.returncode == 0, result.stderr
    assert len(result.events) == 23_000
    assert len(set(alert_ids(result))) == 23_000
    assert scenario.api_calls() <= 4  # three pages of 10,000 (and the last partial one)
    assert {json.loads(e["data"])["id"] for e in result.events} == {a["id"] for a in alerts}


def test_more_alerts_at_one_instant_than_a_page_holds(scenario: Scenario) -> None:
    tenant = scenario.add_tenant()
    at = iso(time.time() - 3600)
    tied = scenario.factory.tied(250, at)
    scenario.stack.microsoft.add_alerts(tenant.tenant_id, tied)
    others = scenario.add_alerts(120)
    result = scenario.run(page_size="100")
    written = alert_ids(result)
    assert len(written) == len(set(written)) == 370
    assert {i for i, _ in written} == {a["id"] for a in tied + others}
    assert any("lastUpdateTime eq " in r.params.get("$filter", "") for r in scenario.stack.microsoft.requests)


def test_throttling_and_server_errors_mid_run_lose_nothing(scenario: Scenario) -> None:
    scenario.add_tenant()
    alerts = scenario.add_alerts(600)
    ms = scenario.stack.microsoft
    ms.queue_fault("throttle", count=1, retry_after=1)
    ms.queue_fault("503", count=1)
    ms.queue_fault("reset", count=1)
    ms.queue_fault("truncate", count=1)
    result = scenario.run(page_size="100")
    assert result.returncode == 0
    assert sorted(alert_ids(result)) == sorted((a["id"], a["lastUpdateTime"]) for a in alerts)
    assert ms.count("api", status=429) == 1
    assert "retries=3" in scenario.log() and "throttled=1" in scenario.log()


def test_a_late_arrival_inside_the_overlap_is_collected_once(scenario: Scenario) -> None:
    tenant = scenario.add_tenant()
    alerts = scenario.add_alerts(40, newest_seconds_ago=30)
    scenario.run()
    newest = max(to_ticks(a["lastUpdateTime"]) for a in alerts)
    late = scenario.factory.alert(newest - 5 * 60 * 10_000_000)  # 5 minutes older than the newest seen
    scenario.stack.microsoft.add_alerts(tenant.tenant_id, [late])
    second = scenario.run()
    assert alert_ids(second) == [(late["id"], late["lastUpdateTime"])]
    assert scenario.run().events == []


def test_kill_9_mid_page_then_a_rerun_loses_nothing_and_resends_at_most_1000(scenario: Scenario) -> None:
    scenario.add_tenant()
    alerts = scenario.add_alerts(20_000)
    running = scenario.run_async()  # the default page: 10,000 alerts, so the kill lands inside the first page
    assert running.wait_for_events(6_000, timeout=120)
    running.kill9()
    killed = running.result()
    assert killed.killed and not killed.stream.complete
    assert len(killed.events) < 10_000
    rerun = scenario.run()
    assert rerun.returncode == 0
    written = alert_ids(killed) + alert_ids(rerun)
    assert set(written) == {(a["id"], a["lastUpdateTime"]) for a in alerts}
    duplicates = len(written) - len(set(written))
    print(f"kill -9 after {len(killed.events)} events at page size 10,000: rerun re-sent {duplicates}")
    assert duplicates <= 1000  # at most the batch written since the last checkpoint


def test_a_lost_kv_collection_is_created_again_and_the_input_starts_over(scenario: Scenario) -> None:
    scenario.add_tenant()
    before = scenario.add_alerts(1_200, days_back=3)
    first = scenario.run(page_size="500")
    assert len(first.events) == 1_200
    splunkd = scenario.stack.splunkd
    assert splunkd is not None
    splunkd.delete_collection(CHECKPOINTS)  # an admin deleted it, or the KV store was restored from a backup
    later = scenario.add_alerts(300, days_back=0.5, newest_seconds_ago=30)

    second = scenario.run(page_size="500")
    assert second.returncode == 0, second.stderr
    assert Counter(alert_ids(second)) == Counter((a["id"], a["lastUpdateTime"]) for a in before + later)
    assert "did not exist" in scenario.log() and "created again" in scenario.log()
    assert "Starting again from the input's Start" in scenario.log()
    assert scenario.checkpoint() is not None  # stored in the re-created collection

    newest = scenario.add_alerts(7, days_back=0.01, newest_seconds_ago=5)
    third = scenario.run(page_size="500")
    assert Counter(alert_ids(third)) == Counter((a["id"], a["lastUpdateTime"]) for a in newest)
    everything = alert_ids(first) + alert_ids(second) + alert_ids(third)
    assert set(everything) == {(a["id"], a["lastUpdateTime"]) for a in before + later + newest}


def test_a_collection_that_cannot_be_created_stops_before_reading(scenario: Scenario) -> None:
    scenario.add_tenant()
    scenario.add_alerts(40)
    splunkd = scenario.stack.splunkd
    assert splunkd is not None
    splunkd.delete_collection(CHECKPOINTS)
    splunkd.queue_fault(
        "kv-config",
        "POST",
        403,
        "You (user=splunk-system-user) do not have permission to perform "
        "this operation (requires capability: admin_all_objects).",
    )
    result = scenario.run()
    assert result.events == [] and scenario.api_calls() == 0
    assert "cannot be created" in scenario.log() and "Restart splunkd" in scenario.log()
    assert "cannot be created" in result.stderr
    assert len(scenario.run().events) == 40  # once the store can create it, nothing was lost


def test_a_checkpoint_write_failing_mid_run_stops_at_once_and_loses_nothing(scenario: Scenario) -> None:
    scenario.add_tenant()
    alerts = scenario.add_alerts(2_500)
    splunkd = scenario.stack.splunkd
    assert splunkd is not None
    # The load succeeds, the first checkpoint (after 1,000 events) is stored, then the next write
    # times out, and so does splunklib's one retry of it.
    splunkd.queue_fault("kv-data", "POST", 500, "KV Store operation timed out.", count=2, after=1)
    first = scenario.run()
    assert "stopped at once" in scenario.log() and "KV Store operation timed out" in scenario.log()
    assert splunkd.count("kv-data", method="POST", status=500) == 2  # one write and its retry; no more
    uncovered = int(re.search(r"sends the (\d+) written since then again", scenario.log()).group(1))  # type: ignore[union-attr]
    assert 0 < uncovered <= 1_000 < len(first.events) < len(alerts)  # what was written stays written
    second = scenario.run()
    written = alert_ids(first) + alert_ids(second)
    assert set(written) == {(a["id"], a["lastUpdateTime"]) for a in alerts}
    assert len(written) - len(set(written)) == uncovered  # exactly what the last stored checkpoint did not cover


def test_a_wrong_secret_is_reported_with_the_fix_and_never_logged(scenario: Scenario) -> None:
    scenario.add_tenant(account_secret="wrong-" + SECRET)
    scenario.add_alerts(5)
    result = scenario.run()
    assert result.events == []
    assert "AADSTS7000215" in scenario.log() and "paste the secret's Value" in scenario.log()
    assert "paste the secret's Value" in result.stderr
    for text in (result.stdout, result.stderr, scenario.log()):
        assert SECRET not in text


def test_a_missing_permission_is_named(scenario: Scenario) -> None:
    scenario.add_tenant(roles=())
    scenario.add_alerts(5)
    result = scenario.run()
    assert result.events == []
    assert "Alert.Read.All" in scenario.log() and "403" in scenario.log()
    assert scenario.checkpoint() is None


def test_the_wrong_region_is_suggested(scenario: Scenario) -> None:
    scenario.add_tenant(geo="us", cloud="commercial_eu")
    scenario.add_alerts(5)
    result = scenario.run()
    assert result.events == []
    assert "cloud/region is probably wrong" in scenario.log()


def test_kv_store_down_stops_before_reading_and_says_so(scenario: Scenario) -> None:
    scenario.add_tenant()
    scenario.add_alerts(20)
    assert scenario.stack.splunkd is not None
    scenario.stack.splunkd.set_kvstore_state("disabled")
    started = time.monotonic()
    result = scenario.run()
    assert time.monotonic() - started < 30
    assert result.events == [] and scenario.api_calls() == 0
    assert "KV store is not available" in scenario.log() and "Checkpoint store to File" in scenario.log()
    scenario.stack.splunkd.set_kvstore_state("ready")
    assert len(scenario.run().events) == 20


def test_the_file_checkpoint_store(scenario: Scenario) -> None:
    scenario.add_tenant()
    scenario.add_alerts(50)
    assert scenario.stack.splunkd is not None
    scenario.stack.splunkd.set_kvstore_state("disabled")  # a heavy forwarder without KV store
    first = scenario.run(checkpoint_store="file")
    assert len(first.events) == 50
    assert (scenario.work / "checkpoints" / "prod.checkpoint.json").exists()
    assert scenario.run(checkpoint_store="file").events == []
    assert scenario.stack.splunkd.kv_documents(CHECKPOINTS) == {}


def test_a_corrupt_checkpoint_restarts_from_start_without_losing_alerts(scenario: Scenario) -> None:
    scenario.add_tenant()
    alerts = scenario.add_alerts(10)
    (scenario.work / "checkpoints").mkdir(parents=True, exist_ok=True)
    (scenario.work / "checkpoints" / "prod.checkpoint.json").write_text('{"version": 99}')
    result = scenario.run(checkpoint_store="file")
    assert len(result.events) == len(alerts)
    assert "cannot be read" in scenario.log() and "duplicate events" in scenario.log()
    assert scenario.run(checkpoint_store="file").events == []


def test_an_account_deleted_under_a_running_input(scenario: Scenario) -> None:
    scenario.add_tenant()
    scenario.add_alerts(3)
    result = scenario.run(account="gone")
    assert result.events == []
    assert "'gone' no longer exists" in scenario.log()


def test_answers_without_alerts_stop_the_run_without_advancing(scenario: Scenario) -> None:
    scenario.add_tenant()
    alerts = scenario.add_alerts(300)
    ms = scenario.stack.microsoft
    ms.queue_fault("no_value", count=1)
    first = scenario.run(page_size="100")
    assert first.events == [] and "has no 'value'" in scenario.log()
    ms.queue_fault("html", count=5)  # a proxy's error page, every attempt
    assert scenario.run(page_size="100").events == []
    assert "not JSON" in scenario.log()
    assert scenario.checkpoint() is None
    assert len(scenario.run(page_size="100").events) == len(alerts)


def test_two_tenants_in_one_process_are_told_apart(scenario: Scenario) -> None:
    first = scenario.add_tenant()
    scenario.add_alerts(10)
    stack = scenario.stack
    second = stack.microsoft.add_tenant(geo="eu")
    app = stack.microsoft.add_app(second.tenant_id, secret="other")
    assert stack.splunkd is not None
    stack.splunkd.seed_account("fabrikam", second.tenant_id, app.client_id, "commercial_eu", client_secret="other")
    now = time.time()
    stack.microsoft.add_alerts(
        second.tenant_id,
        AlertFactory(seed=9, tenant_id=second.tenant_id).alerts(7, start=iso(now - 3600), end=iso(now)),
    )
    result = stack.run_modinput(
        scenario.app_dir,
        {"contoso_in": scenario.params(), "fabrikam_in": scenario.params(account="fabrikam")},
        python=scenario.python,
        checkpoint_dir=scenario.work / "checkpoints",
    )
    sources = Counter(event["source"] for event in result.events)
    assert sources == {
        f"defender_endpoint_alerts://{first.tenant_id}/contoso_in": 10,
        f"defender_endpoint_alerts://{second.tenant_id}/fabrikam_in": 7,
    }
    assert ACCOUNT == "contoso"


def test_a_rejected_token_is_refreshed_once(scenario: Scenario) -> None:
    scenario.add_tenant()
    alerts = scenario.add_alerts(50)
    scenario.stack.microsoft.queue_fault("401", count=1)  # e.g. the token was revoked early
    result = scenario.run()
    assert len(result.events) == len(alerts)
    assert scenario.stack.microsoft.count("token") == 2
    assert "token_requests=2" in scenario.log()


CLOCK = ManualClock(time.time())


@pytest.fixture
def tight_budget(app_dir: Path, splunk_python: str, tmp_path: Path) -> Iterator[Scenario]:
    """Defender's hourly budget, shrunk to 4 calls an hour, on a clock the test moves."""
    CLOCK.advance(max(0.0, time.time() - CLOCK()))
    stack = StandinStack(
        tmp_path / "stack",
        app_default_dir=app_dir / "default",
        microsoft={"rate_limits": (100, 4), "clock": CLOCK},
    ).start()
    try:
        yield Scenario(stack, app_dir, splunk_python, tmp_path)
    finally:
        stack.stop()


def test_an_exhausted_hourly_budget_pauses_the_input_until_the_next_interval(tight_budget: Scenario) -> None:
    scenario = tight_budget
    scenario.add_tenant()
    alerts = scenario.add_alerts(1000)
    first = scenario.run(page_size="100")
    assert 0 < len(first.events) < len(alerts)
    assert "paused" in scenario.log() and "next run resumes" in scenario.log()
    assert scenario.checkpoint() is not None  # what was written is kept
    assert scenario.stack.microsoft.count("api", status=429) == 1  # it did not keep knocking
    written = alert_ids(first)
    for _ in range(6):  # later intervals, an hour apart
        CLOCK.advance(3601)
        written += alert_ids(scenario.run(page_size="100"))
        if len(set(written)) == len(alerts):
            break
    assert sorted(set(written)) == sorted((a["id"], a["lastUpdateTime"]) for a in alerts)
    assert len(written) == len(set(written))


def test_a_certificate_account_collects_without_compiled_libraries(scenario: Scenario) -> None:
    from tests.standins.tls import make_app_certificate

    ms = scenario.stack.microsoft
    tenant = ms.add_tenant(domain="fabrikam.onmicrosoft.com")
    certificate = make_app_certificate()
    app = ms.add_app(tenant.tenant_id, certificate_pem=certificate.certificate_pem)
    assert scenario.stack.splunkd is not None
    scenario.stack.splunkd.seed_account(
        ACCOUNT,
        "fabrikam.onmicrosoft.com",
        app.client_id,
        "commercial",
        "certificate",
        private_key=certificate.private_key_pem,
        thumbprint=certificate.sha1_thumbprint,
    )
    scenario.tenant = tenant
    scenario.factory = AlertFactory(seed=3, tenant_id=tenant.tenant_id)
    alerts = scenario.add_alerts(25)
    result = scenario.run()
    assert len(result.events) == len(alerts), scenario.log()
    token_requests = [r for r in ms.requests if r.kind == "token" and r.status == 200]
    assert [r.credential for r in token_requests] == ["assertion:RS256"]
    assert "BEGIN PRIVATE KEY" not in scenario.log() + result.stderr


def test_characters_xml_forbids_never_make_an_alert_vanish(scenario: Scenario) -> None:
    tenant = scenario.add_tenant()
    plain = scenario.add_alerts(200)
    hostile = scenario.factory.alerts(40, start=iso(time.time() - 86400), end=iso(time.time() - 120))
    for number, alert in enumerate(hostile):
        alert["title"] = f"Malware \uffff{number} in file \ufffe.exe ]]></data></event>"
        alert["evidence"] = [
            {
                "entityType": "File",
                "fileName": f"invoice\uffff{number}.pdf\ufffe.exe",
                "processCommandLine": f'cmd.exe /c "C:\\Users\\a\\\uffff{number}.bat"',
            }
        ]
    scenario.stack.microsoft.add_alerts(tenant.tenant_id, hostile)  # served as raw UTF-8, as JSON allows

    first = scenario.run()
    assert first.returncode == 0, first.stderr
    stream = ET.fromstring(first.stdout)  # the whole stream is well-formed XML 1.0
    assert len(stream) == len(first.events) == 240
    assert Counter(alert_ids(first)) == Counter((a["id"], a["lastUpdateTime"]) for a in plain + hostile)
    by_id = {json.loads(e["data"])["id"]: json.loads(e["data"]) for e in first.events}
    for alert in hostile:
        assert by_id[alert["id"]]["title"] == alert["title"]  # exactly what Defender holds
        assert by_id[alert["id"]]["evidence"] == alert["evidence"]
    assert scenario.run().events == []  # the checkpoint passed them only once they were written


def test_an_api_that_ignores_orderby_loses_nothing(scenario: Scenario) -> None:
    scenario.add_tenant()
    scenario.stack.microsoft.ignore_orderby = True  # $orderby accepted, answers in (shuffled) storage order
    alerts = scenario.add_alerts(12_000)
    first = scenario.run()
    assert first.returncode == 0, first.stderr
    written = alert_ids(first)
    assert len(written) == len(set(written)) == 12_000  # every state once: none skipped, none twice
    assert set(written) == {(a["id"], a["lastUpdateTime"]) for a in alerts}
    assert "Defender ignored $orderby" in scenario.log() and "orderby_ignored=True" in scenario.log()
    filters = [r.params.get("$filter", "") for r in scenario.stack.microsoft.requests if r.kind == "api"]
    assert any(" and lastUpdateTime lt " in f for f in filters)
    print(f"ignored $orderby, 12,000 alerts at page 10,000: {len(filters)} API calls")
    later = scenario.add_alerts(30, days_back=0.01, newest_seconds_ago=5)
    second = scenario.run()
    assert Counter(alert_ids(second)) == Counter((a["id"], a["lastUpdateTime"]) for a in later)
