"""``tools/bench.py --quick`` on a 2,000-alert backlog: it runs end to end and its report has every figure.

Why this file exists: the benchmark is only run by hand (``make bench`` takes minutes),
so without a test it would rot unnoticed when the stand-ins or the package change. This
runs its quick path (one small backlog, one repetition, no MSSP, no profile, no
document) and checks the *structure* of what it reports, and that both readers wrote
every alert. It never asserts speed: figures depend on the machine.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.pythons import find_python

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools"
SIZE = 2_000
Report = tuple[dict[str, Any], str]  # the JSON report, and what was printed


def _bench_module(name: str = "bench") -> Any:
    if str(TOOLS) not in sys.path:
        sys.path.insert(0, str(TOOLS))
    return importlib.import_module(name)


@pytest.fixture(scope="module")
def quick_report(package_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Report:
    if not (find_python("3.9") or find_python("3.13")):
        pytest.skip("neither Python 3.9 nor 3.13 is installed: the packaged input cannot run")
    out = tmp_path_factory.mktemp("bench") / "report.json"
    run = subprocess.run(
        [sys.executable, str(TOOLS / "bench.py"), "--quick", "--sizes", str(SIZE), "--no-doc", "--json", str(out),
         "--package", str(package_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return json.loads(out.read_text()), run.stdout


def test_the_report_has_the_machine_and_every_table(quick_report: Report) -> None:
    report, printed = quick_report
    for key in ("date", "cpu", "cores", "memory", "input python"):
        assert report["machine"][key]
    for heading in ("## Machine", "## Backlog runs", "## Idle runs", "## Targets (issue #5)"):
        assert heading in printed
    for row in ("CPU ms per 1,000 alerts", "wall s", "alerts/s", "peak RSS MiB", "API calls", "token requests",
                "splunkd REST calls", "runs needed to ingest everything", "tenants per core at 300 s"):  # fmt: skip
        assert f"| {row} |" in printed, row
    assert report["mssp"] is None and report["profile"] is None


def test_every_figure_is_measured_for_the_input_and_the_baseline(quick_report: Report) -> None:
    report, _ = quick_report
    (backlog,) = report["backlogs"]
    idle_rounds = _bench_module().IDLE_ROUNDS
    assert backlog["size"] == SIZE and backlog["reps"] == 1
    for side in ("input", "baseline", "idle", "baseline_idle", "baseline_idle_msal"):
        for figure in ("cpu_s", "wall_s", "rss_mib", "api_calls", "token_requests", "splunkd_calls"):
            stat = backlog[side][figure]
            runs = 1 if side in ("input", "baseline") else idle_rounds  # idle: interleaved runs per repetition
            assert set(stat) == {"median", "low", "high", "n"} and stat["n"] == runs, (side, figure)
        assert backlog[side]["cpu_s"]["median"] > 0 and backlog[side]["rss_mib"]["median"] > 5
    assert backlog["input"]["events"]["median"] == SIZE  # every alert written, once
    assert backlog["baseline"]["events"]["median"] == SIZE
    assert backlog["idle"]["events"]["median"] == 0 and backlog["baseline_idle"]["events"]["median"] == 0
    assert backlog["runs_needed"] == [1]
    assert backlog["baseline"]["splunkd_calls"]["median"] == 0  # the baseline never talks to splunkd
    assert backlog["problems"] == []


def test_every_target_is_judged(quick_report: Report) -> None:
    report, printed = quick_report
    texts = " / ".join(t["text"] for t in report["targets"])
    for words in ("throughput", "peak RSS", "flat", "one run", "idle run makes", "idle CPU", "splunkd REST calls",
                  "subprocesses"):  # fmt: skip
        assert words in texts, words
    for target in report["targets"]:
        assert target["holds"] in (True, False, None) and target["measured"]
        mark = "n/a" if target["holds"] is None else ("HOLDS" if target["holds"] else "MISSES")
        assert f"**{mark}" in printed


def test_the_event_counter_reads_a_stream_cut_anywhere() -> None:
    harness = _bench_module("bench_harness")
    events = [
        f'<event stanza="s" unbroken="1"><time>1</time><data>{{"a":1,"id":"da{i}_1","x":"&lt;/event&gt;"}}</data>'
        "<done/></event>"
        for i in range(50)
    ]
    stream = ("<stream>" + "".join(events) + "</stream>").encode()
    for step in (1, 7, 64, len(stream)):
        counter = harness.EventCounter()
        for i in range(0, len(stream), step):
            counter.feed(stream[i : i + step])
        counter.finish()
        assert (counter.events, len(counter.ids), counter.closed) == (50, 50, True), step
    cut = harness.EventCounter()
    cut.feed(stream[: len(stream) // 2])
    cut.finish()
    assert not cut.closed and 0 < cut.events < 50


def test_profile_lines_are_grouped_by_function_and_area(tmp_path: Path) -> None:
    bench = _bench_module()
    raw = tmp_path / "raw.txt"
    app = "/x/etc/apps/TA-defender-endpoint-alerts"
    raw.write_text(
        f"<module> ({app}/bin/defender_endpoint_alerts.py:70);split_page ({app}/bin/mde_alerts/collector.py:120) 3\n"
        f"<module> ({app}/bin/defender_endpoint_alerts.py:70);get ({app}/lib/requests/sessions.py:600) 1\n"
    )
    profile = bench.analyse_profile([raw])
    assert profile["samples"] == 4
    assert dict(profile["areas"]) == {"add-on (mde_alerts)": 0.75, "lib/requests": 0.25}
    assert profile["inclusive"][0] == ("<module> (bin/defender_endpoint_alerts.py)", 1.0)
    assert dict(profile["phases"]) == {
        "parsing pages, new-state check": 0.75,
        "other (interpreter start and exit, ...)": 0.25,
    }
    assert profile["callers"]["split_page (bin/mde_alerts/collector.py)"] == [
        ("<module> (bin/defender_endpoint_alerts.py)", 0.75)
    ]
