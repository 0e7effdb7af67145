"""Offline checks of the pytest-splunk-addon configuration that the live Splunk tests use.

The live tests (test_live_splunk.py) need a Splunk, but what they will ingest and which tests
pytest-splunk-addon generates from package/default can be checked here: the sample file is the
real alerts (regenerated from tests/data/samples), its events parse with the add-on's own
props.conf once tokens are replaced, and pytest-splunk-addon 6.4.0 -- when installed -- reads the
data config and plans field tests for every CIM field and CIM Alerts tests for the eventtype.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.knowledge.alert_samples import MAPPED_FIELDS, REPO_ROOT, SOURCETYPE, compact, sample_alerts
from tests.knowledge.psa_samples import PSA_DIR, PSA_SAMPLE, TIME_TOKEN, psa_sample_text
from tests.knowledge.splunk_search_time import Knowledge, first, parse_conf

CIM_FIELDS = set(MAPPED_FIELDS)


def test_psa_sample_file_is_generated_from_the_real_samples() -> None:
    assert PSA_SAMPLE.read_text(encoding="utf-8") == psa_sample_text(), "run python tests/knowledge/psa_samples.py"


def test_psa_sample_lines_are_the_alerts_with_a_time_token() -> None:
    lines = PSA_SAMPLE.read_text(encoding="utf-8").splitlines()
    alerts = [alert for _, alert in sample_alerts()]
    assert len(lines) == len(alerts)
    for line, alert in zip(lines, alerts):
        restored = json.loads(line)
        assert restored["lastUpdateTime"] == TIME_TOKEN
        restored["lastUpdateTime"] = alert["lastUpdateTime"]
        assert compact(restored) == compact(alert)


def test_psa_data_conf_targets_the_sourcetype() -> None:
    conf = parse_conf((PSA_DIR / "pytest-splunk-addon-data.conf").read_text(encoding="utf-8"))
    stanza = conf[PSA_SAMPLE.name]
    assert stanza["sourcetype"] == SOURCETYPE
    assert stanza["input_type"] == "modinput"
    assert stanza["token.0.token"] == TIME_TOKEN
    assert stanza["token.0.field"] == "_time"


@pytest.fixture
def psa(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """pytest-splunk-addon's modules, used from a scratch directory (they write logs and caches)."""
    pytest.importorskip("pytest_splunk_addon", reason="pytest-splunk-addon is not installed")
    importlib.import_module("pytest_splunk_addon.app_test_generator")  # first: breaks an import cycle
    generator = importlib.import_module("pytest_splunk_addon.sample_generation").SampleGenerator
    monkeypatch.chdir(tmp_path)
    generator.clean_samples()
    yield importlib.import_module("pytest_splunk_addon")
    generator.clean_samples()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnknownMarkWarning")  # its marks register only when it is the plugin
def test_pytest_splunk_addon_generates_the_samples_and_tests(psa: Any, knowledge: Knowledge) -> None:
    sample_generator = importlib.import_module("pytest_splunk_addon.sample_generation").SampleGenerator
    field_test_generator = importlib.import_module("pytest_splunk_addon.fields_tests").FieldTestGenerator
    cim_test_generator = importlib.import_module("pytest_splunk_addon.cim_tests").CIMTestGenerator

    app = str(REPO_ROOT / "package")
    events = list(sample_generator(app, str(PSA_DIR), False).get_samples())
    alerts = [alert for _, alert in sample_alerts()]
    assert len(events) == len(alerts)
    for event, alert in zip(events, alerts):
        assert event.metadata["sourcetype"] == SOURCETYPE
        assert TIME_TOKEN not in event.event
        # The replaced time is one the add-on's TIME_FORMAT reads, and the CIM mapping holds.
        assert knowledge.timestamp(event.event, SOURCETYPE) > 0
        fields = knowledge.search(event.event, SOURCETYPE)
        assert first(fields, "id") == alert["id"]
        assert fields["tag"] == ["alert"]

    field_tests = {
        param.id for param in field_test_generator(app, events).generate_tests("splunk_searchtime_fields_positive")
    }
    assert {f"{SOURCETYPE}::field::{name}" for name in CIM_FIELDS - {"severity", "severity_id"}} <= field_tests
    assert {f"{SOURCETYPE}::LOOKUP-severity", f"{SOURCETYPE}::LOOKUP-severity_id"} <= field_tests
    eventtype_tests = {
        param.id for param in field_test_generator(app, events).generate_tests("splunk_searchtime_fields_eventtypes")
    }
    assert eventtype_tests == {"eventtype::ms_defender_atp_alerts"}

    data_models = os.path.join(os.path.dirname(psa.__file__), "data_models")
    cim_tests = {
        param.id
        for param in cim_test_generator(app, data_models, events).generate_tests("splunk_searchtime_cim_fields")
    }
    required = ("app", "description", "dest", "id", "signature", "signature_id", "severity", "src", "type", "user")
    assert {f'eventtype="ms_defender_atp_alerts"::Alerts::{name}' for name in required} <= cim_tests
