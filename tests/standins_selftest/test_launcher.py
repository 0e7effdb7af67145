"""The launcher runs a modular input as splunkd would and reads its output as splunkd does.

Why this file exists: benchmark and end-to-end tests of the add-on will rely on
``run_modinput``: the stdin XML must parse with splunklib exactly like splunkd's, the
child must reach the stand-ins through Microsoft's real hostnames, a kill -9 mid-stream
must leave only complete events, and resource usage must be measured. A small fake
input (``fake_app``) stands in for the add-on here.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.standins.alerts_factory import AlertFactory
from tests.standins.launcher import (
    StandinStack,
    app_input_defaults,
    build_input_xml,
    parse_event_stream,
    parse_event_stream_detailed,
)

FAKE_APP = Path(__file__).resolve().parent / "fake_app"


def test_stdin_xml_parses_like_splunkd_input() -> None:
    from splunklib.modularinput.input_definition import InputDefinition

    xml = build_input_xml(
        "https://127.0.0.1:8089",
        "key&<>",
        "/tmp/ck",
        {
            "prod": {"account": "acct", "interval": 300, "include_evidence": True, "start": "7", "multi": ["a", "b"]},
        },
    )
    d = InputDefinition.parse(io.StringIO(xml))
    assert d.metadata == {
        "server_host": "standin-hf",
        "server_uri": "https://127.0.0.1:8089",
        "session_key": "key&<>",
        "checkpoint_dir": "/tmp/ck",
    }
    params = d.inputs["defender_endpoint_alerts://prod"]
    assert params["__app"] == "TA-defender-endpoint-alerts"
    assert params["account"] == "acct" and params["interval"] == "300" and params["include_evidence"] == "1"
    assert params["host"] == "standin-hf" and params["index"] == "default" and params["multi"] == ["a", "b"]


def test_stream_parser_keeps_only_complete_events() -> None:
    stream = (
        '<stream><event stanza="x://a" unbroken="1"><time>1.5</time><source>s</source><sourcetype>st</sourcetype>'
        '<index>main</index><data>{"a": "&lt;/event&gt;"}</data><done /></event>'
        '<event stanza="x://a" unbroken="1"><data>{"b": 2}</data><done /></event>'
        '<event stanza="x://a" unbroken="1"><data>{"c": 3'
    )
    parsed = parse_event_stream_detailed(stream)
    assert [e["data"] for e in parsed.events] == ['{"a": "</event>"}', '{"b": 2}']
    assert parsed.events[0]["time"] == "1.5" and parsed.events[0]["done"] is True
    assert not parsed.complete and parsed.trailing.startswith("<event")
    assert parse_event_stream(stream[: stream.index("<event", 10)] + "</stream>") == parsed.events[:1]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[StandinStack]:
    st = StandinStack(tmp_path / "stack").start()
    yield st
    st.stop()


def seed(stack: StandinStack, n: int) -> None:
    ms = stack.microsoft
    t = ms.add_tenant()
    app = ms.add_app(t.tenant_id, secret="pw")
    ms.add_alerts(t.tenant_id, AlertFactory(seed=5, tenant_id=t.tenant_id).alerts(n))
    assert stack.splunkd is not None
    stack.splunkd.seed_account("acct", t.tenant_id, app.client_id, client_secret="pw")


def test_run_modinput_end_to_end(stack: StandinStack) -> None:
    seed(stack, 250)
    res = stack.run_modinput(
        FAKE_APP,
        {"prod": {"account": "acct", "page_size": "100", "index": "mde"}},
        timeout=120,
        env_extra={"FAKE_APP_RESOLVE": "management.azure.com"},
    )
    assert res.returncode == 0, res.stderr
    events = res.events
    assert len(events) == 250 and res.stream.complete
    assert {e["stanza"] for e in events} == {"defender_endpoint_alerts://prod"}
    assert events[0]["sourcetype"] == "ms:defender:atp:alerts" and events[0]["index"] == "mde"
    assert json.loads(events[0]["data"])["evidence"] is not None
    assert res.max_rss_mb > 5 and res.cpu_seconds > 0
    assert res.dns_refused == ["management.azure.com"]  # nothing else left the machine
    ms = stack.microsoft
    assert ms.count("api") == 3 and ms.count("token", status=200) == 1
    assert {r.host for r in ms.requests} == {"login.microsoftonline.com", "api.security.microsoft.com"}
    assert stack.splunkd is not None
    assert {r.endpoint for r in stack.splunkd.requests} == {"properties", "configs", "passwords"}


def test_kill_9_mid_stream(stack: StandinStack) -> None:
    seed(stack, 400)
    run = stack.run_modinput_async(
        FAKE_APP, {"prod": {"account": "acct", "page_size": "400"}}, env_extra={"FAKE_APP_DELAY": "0.005"}
    )
    assert run.wait_for_events(50, timeout=60)
    run.kill9()
    res = run.result(timeout=30)
    assert res.killed and res.returncode == -9
    assert 50 <= len(res.events) < 400
    assert not res.stream.complete
    assert all(json.loads(e["data"])["id"] for e in res.events)  # every kept event is whole


def test_without_the_ca_in_the_environment_tls_fails(stack: StandinStack) -> None:
    seed(stack, 5)
    res = stack.run_modinput(FAKE_APP, {"prod": {"account": "acct"}}, timeout=60, trust_ca_via_env=False)
    assert res.returncode != 0
    assert "CERTIFICATE_VERIFY_FAILED" in res.stderr
    assert res.events == [] and stack.microsoft.count("token") == 0


def test_app_inputs_conf_defaults_reach_the_stanza(tmp_path: Path) -> None:
    from splunklib.modularinput.input_definition import InputDefinition

    (tmp_path / "default").mkdir()
    (tmp_path / "default" / "inputs.conf").write_text(
        "[defender_endpoint_alerts]\ninterval = 300\npage_size = 10000\npython.version = python3\n"
    )
    defaults = app_input_defaults(tmp_path)
    xml = build_input_xml("https://127.0.0.1:1", "k", "/tmp", {"a": {"page_size": "500"}}, defaults=defaults)
    params = InputDefinition.parse(io.StringIO(xml)).inputs["defender_endpoint_alerts://a"]
    assert params["interval"] == "300" and params["page_size"] == "500" and params["python.version"] == "python3"
