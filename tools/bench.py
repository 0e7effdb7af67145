"""``make bench``: what one run of the packaged input costs, next to a bare reader of the same data.

Why this file exists: a forwarder runs this input every interval for every tenant, so
its CPU, memory, API calls and splunkd calls per run decide how many tenants one
forwarder can serve and whether a 100,000-alert backlog fits in one run. These figures
only mean something next to a yardstick, so each backlog is read twice on the same
seeded stand-in data:

* the **packaged** input, exactly as splunkd runs it: Splunk's Python (3.9), stdin XML,
  stdout event stream, the package's own ``lib/``, the account in the splunkd stand-in,
  its checkpoint in the (stand-in) KV store;
* ``tools/bench_baseline.py``, a bare reader doing only the unavoidable work (token,
  time-boundary pages of 10,000, compact JSON in XML events, one write per page), under
  the same Python, with ``requests`` from the same ``lib/`` and the same environment.

Every child is started through a tiny reaper process (``python -S``) that forks it and
reports its ``os.wait4`` rusage: CPU, and a peak RSS that belongs to the child alone
(Linux carries a parent's RSS high-water mark into a forked child's ``ru_maxrss``
across ``exec``, so a child of this large harness would otherwise report the harness's
RSS). A small ``sitecustomize`` on the child's ``PYTHONPATH`` records process-creation
audit events (``subprocess.Popen``, ``os.system``, ``os.exec``, ``os.posix_spawn``,
``os.fork``...) and then loads the stand-ins' hostmap ``sitecustomize``.

Bytecode caches (``__pycache__``) are written into the unpacked copy of the package
during an untimed warm-up run, as they are on a forwarder after the input's first run;
``--cold-bytecode`` measures without them.

It prints one table per backlog, one for idle runs, which targets of issue #5 hold, the
MSSP figures (``tools/bench_mssp.py``) and, with py-spy installed, a profile; the same
goes to ``docs/PERFORMANCE.md`` (the sections "Profile: top costs" and "What we changed"
are kept when not regenerated). ``--quick`` is a smoke test (one backlog of 10,000, one
repetition, no MSSP, no profile, no document). Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import bench_mssp  # noqa: E402  (tools/ is this script's directory, on sys.path)
from bench_harness import (  # noqa: E402
    ACCOUNT,
    BASELINE,
    DAY,
    INTERVAL,
    ROOT,
    SECRET,
    Sample,
    Tenants,
    Workspace,
    iso,
    log,
    md_table,
    newest_package,
)
from bench_mssp import TARGET_TENANTS_PER_CORE  # noqa: E402

from tests.pythons import find_python  # noqa: E402  (bench_harness put the repository root on sys.path)

MAX_RUNS = 5  # runs of one input allowed to ingest a backlog before giving up
IDLE_ROUNDS = 3  # idle runs per repetition, interleaved with the baseline's: an idle run is short and noisy
DOC = ROOT / "docs" / "PERFORMANCE.md"

# Targets of issue #5.
TARGET_CPU_RATIO = 1.25  # CPU per alert, input / baseline
TARGET_THROUGHPUT_RATIO = 0.8  # alerts/s, input / baseline
TARGET_RSS_MIB = 100.0
TARGET_RSS_GROWTH = 0.10  # "flat": at most 10 % more from 10,000 to 100,000 alerts
TARGET_BACKLOG_CALLS = 12
TARGET_BACKLOG_SPLUNKD = 120  # settings, account, secret, checkpoint load, and ~100 checkpoint writes
TARGET_IDLE_CALLS = 1
TARGET_IDLE_CPU_RATIO = 1.3
TARGET_IDLE_SPLUNKD = 5


@dataclass
class BacklogRep:
    input: Sample
    runs_needed: Optional[int]  # runs of the input until every alert was written (None: not within MAX_RUNS)
    input_api_calls_all_runs: int
    baseline: Sample
    idle: list[Sample]  # IDLE_ROUNDS interleaved rounds: input, baseline, baseline with MSAL
    baseline_idle: list[Sample]
    baseline_idle_msal: list[Sample]


@dataclass
class BacklogResult:
    size: int
    seed_seconds: float
    reps: list[BacklogRep]


def run_backlog(
    ws: Workspace, size: int, reps: int, *, warm_up: bool, hostile_percent: float = 0.0
) -> tuple[BacklogResult, Tenants, tuple[str, str, str]]:
    """Seed *size* alerts once, then per repetition: input backlog run(s), idle run, baseline, baseline idle."""
    tenants = Tenants(ws, f"backlog-{size}")
    ids = tenants.add_tenant(ACCOUNT)
    tenant_id, _, baseline_client = ids
    started = time.monotonic()
    tenants.seed_alerts(tenant_id, size, seed=size, hostile_percent=hostile_percent)
    seed_seconds = time.monotonic() - started
    log(f"seeded {size:,} alerts ({hostile_percent:g} % with characters XML forbids) in {seed_seconds:.1f}s")
    if warm_up:  # writes __pycache__ into the unpacked package and warms the page cache; not measured
        tenants.run_input("warmup", ACCOUNT, tenants.work / "ck-warmup")
        tenants.run_baseline(tenant_id, baseline_client, iso(time.time() - 7 * DAY))
        tenants.run_baseline(tenant_id, baseline_client, iso(time.time() - 60), exclusive=True, use_msal=True)
        log("warm-up done")
    out: list[BacklogRep] = []
    for rep in range(1, reps + 1):
        name = f"bench_{size}_r{rep}"  # a fresh input name and checkpoint dir: a fresh checkpoint
        checkpoint_dir = tenants.work / f"ck-{rep}"
        first = tenants.run_input(name, ACCOUNT, checkpoint_dir)
        written, calls, runs = first.unique_ids, first.api_calls, 1
        while written < size and runs < MAX_RUNS:
            more = tenants.run_input(name, ACCOUNT, checkpoint_dir)
            runs, calls = runs + 1, calls + more.api_calls
            written += more.unique_ids
            if more.events == 0:
                break
        if written != size:
            first.problems.append(f"wrote {written:,} distinct alerts of {size:,} in {runs} runs")
        base = tenants.run_baseline(tenant_id, baseline_client, iso(time.time() - 7 * DAY))
        if base.unique_ids != size:
            base.problems.append(f"baseline wrote {base.unique_ids:,} distinct alerts of {size:,}")
        since = base.newest or iso(time.time())
        idle, base_idle, base_idle_msal = [], [], []
        for _ in range(IDLE_ROUNDS):
            idle.append(tenants.run_input(name, ACCOUNT, checkpoint_dir))
            base_idle.append(tenants.run_baseline(tenant_id, baseline_client, since, exclusive=True))
            base_idle_msal.append(
                tenants.run_baseline(tenant_id, baseline_client, since, exclusive=True, use_msal=True)
            )
        for sample in idle:
            if sample.events:
                sample.problems.append(f"an idle run wrote {sample.events} events")
        out.append(BacklogRep(first, runs if written >= size else None, calls, base, idle, base_idle, base_idle_msal))
        log(
            f"{size:,} rep {rep}: input {first.cpu_s:.2f}s CPU {first.wall_s:.2f}s wall {first.rss_mib:.0f} MiB, "
            f"idle {statistics.median(x.cpu_s for x in idle):.2f}s; baseline {base.cpu_s:.2f}s CPU "
            f"{base.wall_s:.2f}s wall {base.rss_mib:.0f} MiB, idle {statistics.median(x.cpu_s for x in base_idle):.2f}s"
        )
    return BacklogResult(size, seed_seconds, out), tenants, ids


# ------------------------------------------------------------------------------------------
# Statistics and the report
# ------------------------------------------------------------------------------------------
@dataclass
class Stat:
    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Iterable[float]) -> Stat:
        v = [x for x in values if x == x]  # drop NaN
        if not v:
            return cls(float("nan"), float("nan"), float("nan"), 0)
        return cls(statistics.median(v), min(v), max(v), len(v))

    def fmt(self, digits: int = 0, *, sep: str = "–") -> str:
        if self.n == 0:
            return "n/a"
        m = f"{self.median:,.{digits}f}"
        if self.n == 1 or (round(self.low, digits) == round(self.high, digits)):
            return m
        return f"{m} ({self.low:,.{digits}f}{sep}{self.high:,.{digits}f})"


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def summarize_backlog(res: BacklogResult) -> dict[str, Any]:
    def stat(samples: list[Sample], fn: Callable[[Sample], float]) -> Stat:
        return Stat.of(fn(s) for s in samples)

    inp = [r.input for r in res.reps]
    base = [r.baseline for r in res.reps]
    idle = [x for r in res.reps for x in r.idle]
    bidle = [x for r in res.reps for x in r.baseline_idle]
    bidle_msal = [x for r in res.reps for x in r.baseline_idle_msal]
    runs = [r.runs_needed for r in res.reps]

    def side(samples: list[Sample]) -> dict[str, Stat]:
        return {
            "cpu_ms_per_1k": stat(samples, lambda s: s.cpu_ms_per_1k),
            "cpu_s": stat(samples, lambda s: s.cpu_s),
            "wall_s": stat(samples, lambda s: s.wall_s),
            "alerts_per_s": stat(samples, lambda s: s.alerts_per_s),
            "rss_mib": stat(samples, lambda s: s.rss_mib),
            "api_calls": stat(samples, lambda s: s.api_calls),
            "token_requests": stat(samples, lambda s: s.token_requests),
            "oidc_requests": stat(samples, lambda s: s.oidc_requests),
            "splunkd_calls": stat(samples, lambda s: s.splunkd_calls),
            "alerts_returned": stat(samples, lambda s: s.alerts_returned),
            "events": stat(samples, lambda s: s.events),
            "subprocesses": stat(samples, lambda s: len(s.subprocesses)),
            "throttled": stat(samples, lambda s: s.throttled),
        }

    def idle_side(samples: list[Sample]) -> dict[str, Stat]:
        d = side(samples)
        d["tenants_per_core"] = stat(samples, lambda s: INTERVAL / s.cpu_s if s.cpu_s else float("nan"))
        return d

    return {
        "size": res.size,
        "reps": len(res.reps),
        "seed_seconds": res.seed_seconds,
        "input": side(inp),
        "baseline": side(base),
        "runs_needed": runs,
        "input_api_calls_all_runs": [r.input_api_calls_all_runs for r in res.reps],
        "idle": idle_side(idle),
        "baseline_idle": idle_side(bidle),
        "baseline_idle_msal": idle_side(bidle_msal),
        "input_splunkd_paths": inp[0].splunkd_paths if inp else [],
        "idle_splunkd_paths": idle[0].splunkd_paths if idle else [],
        "idle_subprocesses": sorted({p for s in idle for p in s.subprocesses}),
        "input_subprocesses": sorted({p for s in inp for p in s.subprocesses}),
        "problems": sorted({p for x in [*inp, *base, *idle, *bidle, *bidle_msal] for p in x.problems}),
    }


def fmt_ratio(x: float) -> str:
    return "n/a" if x != x else f"{x:.2f}×"


def backlog_table(summaries: list[dict[str, Any]]) -> str:
    header = ["per backlog run"]
    for s in summaries:
        header += [f"input {s['size']:,}", f"baseline {s['size']:,}", "input/baseline"]
    rows: list[list[str]] = []
    spec: list[tuple[str, str, int, bool]] = [
        ("CPU ms per 1,000 alerts", "cpu_ms_per_1k", 0, True),
        ("CPU s", "cpu_s", 2, True),
        ("wall s", "wall_s", 2, True),
        ("alerts/s", "alerts_per_s", 0, True),
        ("peak RSS MiB", "rss_mib", 1, True),
        ("API calls", "api_calls", 0, False),
        ("token requests", "token_requests", 0, False),
        ("OIDC discovery requests", "oidc_requests", 0, False),
        ("splunkd REST calls", "splunkd_calls", 0, False),
        ("events written", "events", 0, False),
        ("subprocesses", "subprocesses", 0, False),
    ]
    for label, key, digits, with_ratio in spec:
        row = [label]
        for s in summaries:
            a, b = s["input"][key], s["baseline"][key]
            row += [a.fmt(digits), b.fmt(digits), fmt_ratio(ratio(a.median, b.median)) if with_ratio else ""]
        rows.append(row)
    row = ["runs needed to ingest everything"]
    for s in summaries:
        runs = s["runs_needed"]
        row += [", ".join(f"not within {MAX_RUNS}" if r is None else str(r) for r in runs), "1", ""]
    rows.append(row)
    return md_table(header, rows)


def idle_table(summaries: list[dict[str, Any]]) -> str:
    header = ["per idle run"]
    for s in summaries:
        header += [f"input after {s['size']:,}", "baseline", "baseline + MSAL", "input/baseline"]
    spec: list[tuple[str, str, int, bool]] = [
        ("CPU ms", "cpu_s", -1, True),
        ("wall s", "wall_s", 2, True),
        ("peak RSS MiB", "rss_mib", 1, True),
        ("API calls", "api_calls", 0, False),
        ("token requests", "token_requests", 0, False),
        ("OIDC discovery requests", "oidc_requests", 0, False),
        ("splunkd REST calls", "splunkd_calls", 0, False),
        ("alerts the API returned (overlap re-read)", "alerts_returned", 0, False),
        ("subprocesses", "subprocesses", 0, False),
        (f"tenants per core at {INTERVAL} s", "tenants_per_core", 0, True),
    ]
    rows = []
    for label, key, digits, with_ratio in spec:
        row = [label]
        for s in summaries:
            cells = []
            for side in ("idle", "baseline_idle", "baseline_idle_msal"):
                st: Stat = s[side][key]
                if digits == -1:  # seconds shown as milliseconds
                    st = Stat(st.median * 1000, st.low * 1000, st.high * 1000, st.n)
                cells.append(st.fmt(max(digits, 0)))
            a, b = s["idle"][key].median, s["baseline_idle"][key].median
            row += [*cells, fmt_ratio(ratio(a, b)) if with_ratio else ""]
        rows.append(row)
    return md_table(header, rows)


@dataclass
class Target:
    text: str
    holds: Optional[bool]
    measured: str


def evaluate_targets(summaries: list[dict[str, Any]], mssp: Optional[dict[str, Any]]) -> list[Target]:
    out: list[Target] = []
    by_size = {s["size"]: s for s in summaries}
    for s in summaries:
        cpu = ratio(s["input"]["cpu_ms_per_1k"].median, s["baseline"]["cpu_ms_per_1k"].median)
        thr = ratio(s["input"]["alerts_per_s"].median, s["baseline"]["alerts_per_s"].median)
        out.append(
            Target(
                f"{s['size']:,}: throughput ≥ {TARGET_THROUGHPUT_RATIO}× baseline and CPU/alert ≤ {TARGET_CPU_RATIO}×",
                thr >= TARGET_THROUGHPUT_RATIO and cpu <= TARGET_CPU_RATIO,
                f"throughput {thr:.2f}×, CPU per alert {cpu:.2f}×",
            )
        )
    rss = {size: s["input"]["rss_mib"].high for size, s in by_size.items()}
    worst = max(rss.values()) if rss else float("nan")
    out.append(
        Target(
            f"peak RSS ≤ {TARGET_RSS_MIB:.0f} MiB (every backlog run)",
            worst <= TARGET_RSS_MIB,
            ", ".join(f"{k:,}: {v:.1f} MiB (max)" for k, v in sorted(rss.items())),
        )
    )
    sizes = sorted(by_size)
    if len(sizes) >= 2:
        lo, hi = by_size[sizes[0]]["input"]["rss_mib"].median, by_size[sizes[-1]]["input"]["rss_mib"].median
        growth = ratio(hi, lo) - 1
        out.append(
            Target(
                f"peak RSS flat from {sizes[0]:,} to {sizes[-1]:,} alerts (≤ {TARGET_RSS_GROWTH:.0%} growth)",
                growth <= TARGET_RSS_GROWTH,
                f"{lo:.1f} → {hi:.1f} MiB ({growth:+.0%})",
            )
        )
    else:
        out.append(Target("peak RSS flat from 10,000 to 100,000 alerts", None, "needs two backlog sizes"))
    big = by_size.get(100_000) or (by_size[sizes[-1]] if sizes else None)
    if big is not None:
        runs = big["runs_needed"]
        calls = big["input"]["api_calls"]
        holds = all(r == 1 for r in runs) and calls.high <= TARGET_BACKLOG_CALLS
        out.append(
            Target(
                f"the whole {big['size']:,} backlog in one run with ≤ {TARGET_BACKLOG_CALLS} API calls",
                holds if big["size"] == 100_000 else None,
                f"runs needed {runs}, API calls {calls.fmt()}"
                + ("" if big["size"] == 100_000 else " (measured on a smaller backlog: run without --quick)"),
            )
        )
        splunkd_calls = big["input"]["splunkd_calls"]
        out.append(
            Target(
                f"the whole {big['size']:,} backlog with ≤ {TARGET_BACKLOG_SPLUNKD} splunkd REST calls "
                "(a checkpoint every 1,000 events)",
                splunkd_calls.high <= TARGET_BACKLOG_SPLUNKD if big["size"] == 100_000 else None,
                f"splunkd calls {splunkd_calls.fmt()}"
                + ("" if big["size"] == 100_000 else " (measured on a smaller backlog: run without --quick)"),
            )
        )
    idle_calls = [s["idle"]["api_calls"] for s in summaries]
    out.append(
        Target(
            f"an idle run makes {TARGET_IDLE_CALLS} API call",
            all(c.high == TARGET_IDLE_CALLS and c.low == TARGET_IDLE_CALLS for c in idle_calls),
            ", ".join(f"after {s['size']:,}: {s['idle']['api_calls'].fmt()}" for s in summaries),
        )
    )
    cpu_ratios = [ratio(s["idle"]["cpu_s"].median, s["baseline_idle"]["cpu_s"].median) for s in summaries]
    out.append(
        Target(
            f"idle CPU ≤ {TARGET_IDLE_CPU_RATIO}× the baseline's idle CPU",
            all(r <= TARGET_IDLE_CPU_RATIO for r in cpu_ratios),
            ", ".join(
                f"after {s['size']:,}: {s['idle']['cpu_s'].median * 1000:.0f} ms vs "
                f"{s['baseline_idle']['cpu_s'].median * 1000:.0f} ms = {r:.2f}×"
                for s, r in zip(summaries, cpu_ratios)
            ),
        )
    )
    calls = [s["idle"]["splunkd_calls"].high for s in summaries]
    out.append(
        Target(
            f"idle run: ≤ {TARGET_IDLE_SPLUNKD} splunkd REST calls",
            all(c <= TARGET_IDLE_SPLUNKD for c in calls),
            ", ".join(f"after {s['size']:,}: {s['idle']['splunkd_calls'].fmt()}" for s in summaries),
        )
    )
    subs = sorted({p for s in summaries for p in s["idle_subprocesses"]})
    out.append(
        Target(
            "idle run: no subprocesses (audit hook: subprocess/os.system/exec/spawn/fork)",
            not subs,
            "none" if not subs else "; ".join(subs[:5]),
        )
    )
    if mssp is not None:
        tpc = mssp["tenants_per_core"]
        out.append(
            Target(
                f"MSSP: one process per input reaches {TARGET_TENANTS_PER_CORE:,} tenants per core at {INTERVAL} s",
                tpc >= TARGET_TENANTS_PER_CORE,
                f"{tpc:,.0f} tenants per core ({mssp['tenants']} inputs, idle intervals: "
                f"{mssp['idle_cpu_ms_per_input']:.0f} ms CPU per input)",
            )
        )
    return out


def targets_text(targets: list[Target]) -> str:
    lines = []
    for t in targets:
        mark = "n/a " if t.holds is None else ("HOLDS" if t.holds else "MISSES")
        lines.append(f"- **{mark}** {t.text}: {t.measured}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------
# The machine
# ------------------------------------------------------------------------------------------
def machine(ws: Workspace) -> dict[str, str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "unknown"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    git = ["git", "-C", str(ROOT)]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "package", "globalConfig.json", "additional_packaging.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": str(os.cpu_count() or "?"),
        "memory": mem,
        "os": f"{platform.system()} {platform.release()}",
        "input python": f"{ws.python_version()} ({ws.python})",
        "harness python": platform.python_version(),
        "package": ws.package.name,
        "commit": (commit.stdout.strip() or "?") + (" + uncommitted changes" if dirty.stdout.strip() else ""),
        "bytecode": "warm __pycache__ (written by an untimed warm-up run)" if ws.write_bytecode else "cold (no .pyc)",
    }


# ------------------------------------------------------------------------------------------
# Profiles (py-spy)
# ------------------------------------------------------------------------------------------
def find_pyspy() -> Optional[str]:
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")


def _area(path: str) -> str:
    """Group a frame's file into what a reader recognises: a library, the add-on, the stdlib."""
    if path.startswith("<frozen importlib"):
        return "import machinery"
    if "/etc/apps/" in path:
        m = re.search(r"/lib/3rdparty/[^/]+/([^/.]+)", path) or re.search(r"/lib/([^/.]+)", path)
        if m:
            return f"lib/{m.group(1)}"
        if "/bin/mde_alerts/" in path:
            return "add-on (mde_alerts)"
        return "add-on (bin/ entry scripts)"
    m = re.search(r"/lib/python3\.\d+/([^/]+?)(?:\.py|/)", path)
    if m:
        return f"stdlib {m.group(1)}"
    if "sitecustomize" in path:
        return "bench/hostmap sitecustomize"
    return path or "?"


def _short(func: str, path: str) -> str:
    if "/etc/apps/" in path:
        path = path.split("/etc/apps/", 1)[1]
        path = path.split("/", 1)[1] if "/" in path else path  # drop the app folder
        path = re.sub(r"^lib/3rdparty/[^/]+/", "lib/", path)
    elif re.search(r"/lib/python3\.\d+/", path):
        path = "stdlib/" + re.split(r"/lib/python3\.\d+/", path, maxsplit=1)[1]
    elif "sitecustomize" in path:
        path = "sitecustomize.py"
    return f"{func} ({path})"


def _owned(area: str) -> bool:
    """A frame of the add-on or of one of its libraries: where a cost can be changed."""
    return area.startswith(("lib/", "add-on"))


Frame = tuple[str, str]  # (function, file)


def _has(frames: Sequence[Frame], func: str = "", file: str = "") -> bool:
    return any((not func or f == func) and (not file or file in p) for f, p in frames)


# What part of a run a sample belongs to: the innermost frame of the stack that matches
# one of these (file substring, function or "", part); module bodies are skipped, so code
# run while importing counts as imports.
PHASE_FRAMES: tuple[tuple[str, str, str], ...] = (
    ("<frozen importlib", "", "imports"),
    ("/lib/msal/", "", "token (MSAL / Entra ID)"),
    ("/mde_alerts/defender_api.py", "token", "token (MSAL / Entra ID)"),
    ("/mde_alerts/checkpoint_store.py", "", "splunkd REST: settings, account, secret, checkpoint"),
    ("/mde_alerts/splunk_config.py", "", "splunkd REST: settings, account, secret, checkpoint"),
    ("/mde_alerts/collector.py", "", "parsing pages, new-state check"),
    ("/mde_alerts/events.py", "", "writing events"),
    ("/mde_alerts/defender_api.py", "", "HTTP: alerts API (TLS, read)"),
    ("/logging/", "", "logging"),
    ("/solnlib/log.py", "", "logging"),
    ("/splunklib/modularinput/", "", "splunklib: stdin XML, script"),
)


def phase_of(frames: Sequence[Frame]) -> str:
    for func, path in reversed(frames):
        if func == "<module>":
            continue
        for file_part, func_name, phase in PHASE_FRAMES:
            if file_part in path and (not func_name or func == func_name):
                if phase == "imports":
                    running = _has(frames, "stream_events", "/mde_alerts/")
                    return "imports during the run" if running else "imports at start-up"
                return phase
    return "other (interpreter start and exit, ...)"


def analyse_profile(raw_files: Sequence[Path], top: int = 15) -> dict[str, Any]:
    """Sample shares from py-spy raw (collapsed) stacks recorded with --full-filenames.

    ``self``: the function on top of the stack (time in C is charged to its Python
    caller); ``callers``: for those, the nearest frame of the add-on or its libraries
    below them, which is where the cost can be changed; ``inclusive``: on the stack at
    all; ``areas``: self time per library / add-on / stdlib module.
    """
    self_fn: Counter[str] = Counter()
    incl_fn: Counter[str] = Counter()
    self_area: Counter[str] = Counter()
    phases: Counter[str] = Counter()
    callers: dict[str, Counter[str]] = {}
    total = 0
    for path in raw_files:
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames: list[Frame] = []
            for frame in stack.split(";"):
                m = _FRAME.match(frame)
                frames.append((m.group("func"), m.group("file")) if m else (frame, ""))
            total += count
            phases[phase_of(frames)] += count
            leaf = _short(*frames[-1])
            self_fn[leaf] += count
            self_area[_area(frames[-1][1])] += count
            for name in {_short(*f) for f in frames}:
                incl_fn[name] += count
            caller = next((_short(*f) for f in reversed(frames[:-1]) if _owned(_area(f[1]))), "-")
            callers.setdefault(leaf, Counter())[caller] += count

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(k, v / total) for k, v in counter.most_common(top)] if total else []

    return {
        "samples": total,
        "phases": [(k, v / total) for k, v in phases.most_common()] if total else [],
        "self": share(self_fn),
        "callers": {k: share(callers[k])[:2] for k, _ in share(self_fn)},
        "inclusive": share(incl_fn),
        "areas": share(self_area),
    }


def profile_runs(
    tenants: Tenants, account: str, pyspy: str, *, idle_runs: int = 12, rate: int = 250, idle_rate: int = 250
) -> dict[str, Any]:
    """py-spy on one full backlog run and on *idle_runs* idle runs (aggregated) of the packaged input."""
    out_dir = tenants.work / "profiles"
    out_dir.mkdir(parents=True, exist_ok=True)
    name = "bench_profile"
    checkpoint_dir = tenants.work / "ck-profile"

    def pyspy_prefix(out: Path, hz: int) -> list[str]:
        # Blocking mode (py-spy pauses the process per sample: its idle-thread detection then leaves out
        # waits for the network); at 1 kHz that slows an idle run tenfold, at 250 Hz by ~30 %.
        return [pyspy, "record", "--rate", str(hz), "--format", "raw", "--full-filenames", "--output", str(out), "--"]

    backlog_raw = out_dir / "backlog.txt"
    backlog = tenants.run_input(name, account, checkpoint_dir, prefix=pyspy_prefix(backlog_raw, rate))
    idle_raw = []
    for i in range(idle_runs):
        path = out_dir / f"idle-{i}.txt"
        tenants.run_input(name, account, checkpoint_dir, prefix=pyspy_prefix(path, idle_rate))
        idle_raw.append(path)
    version = subprocess.run([pyspy, "--version"], capture_output=True, text=True, check=False)
    return {
        "tool": version.stdout.strip() or "py-spy",
        "backlog_events": backlog.events,
        "rate": rate,
        "idle_rate": idle_rate,
        "idle_runs": idle_runs,
        "backlog": analyse_profile([backlog_raw]),
        "idle": analyse_profile(idle_raw),
        "raw_dir": str(out_dir),
    }


_IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def import_times(stderr: str) -> dict[str, int]:
    """Self import time (µs) per top-level package, from ``-X importtime`` lines on stderr."""
    out: Counter[str] = Counter()
    for line in stderr.splitlines():
        m = _IMPORT_LINE.match(line)
        if m:
            out[m.group(4).split(".")[0]] += int(m.group(1))
    return dict(out)


def import_profile(
    tenants: Tenants, account: str, tenant_id: str, baseline_client: str, runs: int = 3
) -> dict[str, Any]:
    """``-X importtime`` of idle runs of the input and of the baseline (median per package of *runs*)."""
    name = "bench_importtime"
    checkpoint_dir = tenants.work / "ck-importtime"
    tenants.run_input(name, account, checkpoint_dir)  # collect, so the next runs are idle
    env = {"PYTHONPROFILEIMPORTTIME": "1"}
    inputs, baselines = [], []
    for _ in range(runs):
        stdin = tenants.input_stdin([(name, account)], checkpoint_dir)
        inputs.append(import_times(tenants.child(tenants.input_argv(), stdin, env).stderr))
        argv = [tenants.ws.python, str(BASELINE), "--app", str(tenants.ws.app_dir), "--tenant", tenant_id,
                "--client-id", baseline_client, "--since", iso(time.time()), "--exclusive"]  # fmt: skip
        baselines.append(import_times(tenants.child(argv, "", {**env, "BENCH_CLIENT_SECRET": SECRET}).stderr))

    def median(samples: list[dict[str, int]]) -> dict[str, float]:
        names = set().union(*samples)
        return {n: statistics.median(x.get(n, 0) for x in samples) for n in names}

    return {"runs": runs, "input": median(inputs), "baseline": median(baselines)}


def profile_markdown(prof: Optional[dict[str, Any]], imports: Optional[dict[str, Any]], size: int) -> str:
    def table(entries: list[tuple[str, float]], what: str) -> str:
        return md_table([what, "share of samples"], [[f"`{k}`", f"{v:.1%}"] for k, v in entries])

    parts: list[str] = []
    if prof:
        parts += [
            f"{prof['tool']} sampling the packaged input (CPU samples only; time spent in C is charged to the Python "
            "line that called it; \"called from\" is the nearest frame of the add-on or its libraries below it).",
            "",
        ]
        runs = (
            ("backlog", f"One {size:,}-alert backlog run ({prof['backlog']['samples']:,} samples at "
             f"{prof['rate']} Hz)"),
            ("idle", f"Idle runs ({prof['idle_runs']} aggregated, {prof['idle']['samples']:,} samples at "
             f"{prof['idle_rate']} Hz)"),
        )  # fmt: skip
        for key, title in runs:
            p = prof[key]
            parts += [f"### {title}", "", "Where the time goes:", "", table(p["phases"], "part of the run"), ""]
            parts += ["Self time by area:", "", table(p["areas"], "area"), ""]
            rows = [
                [f"`{k}`", f"{v:.1%}", "<br>".join(f"`{c}` {cv:.1%}" for c, cv in p["callers"].get(k, []))]
                for k, v in p["self"]
            ]
            parts += ["Self time by function:", "", md_table(["function", "self", "called from"], rows), ""]
            parts += ["Inclusive time by function:", "", table(p["inclusive"], "function"), ""]
    if imports:
        inp, base = imports["input"], imports["baseline"]
        names = sorted(set(inp) | set(base), key=lambda n: -(inp.get(n, 0) - base.get(n, 0)))
        rows = [
            [f"`{n}`", f"{inp.get(n, 0) / 1000:.1f}", f"{base.get(n, 0) / 1000:.1f}",
             f"{(inp.get(n, 0) - base.get(n, 0)) / 1000:+.1f}"]
            for n in names[:20]
        ]  # fmt: skip
        all_in, all_base = sum(inp.values()) / 1000, sum(base.values()) / 1000
        rows.append(["**all**", f"**{all_in:.1f}**", f"**{all_base:.1f}**", f"**{all_in - all_base:+.1f}**"])
        parts += [
            "### Imports of an idle run (`python -X importtime`)",
            "",
            f"Self import time per top-level package in ms, median of {imports['runs']} idle runs each (wall clock, "
            "including `-X importtime`'s own overhead), sorted by what the input imports beyond the baseline:",
            "",
            md_table(["package", "input", "baseline", "difference"], rows),
            "",
        ]
    return "\n".join(parts) if parts else "_Not profiled: run with `--profile on` (needs py-spy)._"


# ------------------------------------------------------------------------------------------
# docs/PERFORMANCE.md
# ------------------------------------------------------------------------------------------
RESULTS_BEGIN, RESULTS_END = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"
PROFILE_BEGIN, PROFILE_END = "<!-- bench:profile:begin -->", "<!-- bench:profile:end -->"

DOC_HEAD = """# Performance

What one run of the packaged input costs, measured by `make bench` (`tools/bench.py`) against the project's
stand-ins for Microsoft and splunkd, next to a bare reader of the same data (`tools/bench_baseline.py`: a plain
client-credentials token POST, time-boundary pages of 10,000 with `$expand=evidence`, `json.loads` per page,
`json.dumps` per alert, XML escaping, one write per page; no checkpoint, no splunkd, no logging).

How it is measured:

- Both run as child processes under Splunk's Python (3.9) with the package's own `lib/`, the stdin/stdout protocol
  and environment splunkd gives an input; the input's account is in the splunkd stand-in, its checkpoint in the
  stand-in's KV store.
- CPU and peak RSS are each child's own `os.wait4` rusage, taken by a small reaper process (Linux carries a parent's
  RSS high-water mark into a forked child's `ru_maxrss`, so a child of the harness would report the harness's RSS).
- A `sitecustomize` audit hook records every process the child starts (`subprocess.Popen`, `os.system`, `os.exec*`,
  `os.posix_spawn`, `os.fork`).
- TLS to the "Microsoft" hosts is verified against the package's certifi bundle plus the stand-ins' CA, so each TLS
  set-up costs what it costs against Microsoft; everything is on loopback, so network latency is not in the figures.
- `__pycache__` is written by an untimed warm-up run, as on a forwarder after the input's first run.
- Backlog alerts are spread over the last 3 days, about 90 % with 1–3 evidence items; inputs start 7 days back; each
  repetition uses a fresh input name (a fresh checkpoint). An idle run is the same input run again with nothing new
  (it still re-reads the 15-minute overlap before its checkpoint). The baseline's idle run asks for
  `lastUpdateTime gt <newest>`.
- Cells are the median of the repetitions with the range in brackets; idle figures take 3 idle runs per repetition,
  interleaved with the baseline's. Tenants per core = 300 s / idle CPU seconds.
- The harness and the stand-ins share the machine's cores with the measured child; on a 2-core machine expect
  ±10–20 % between runs.

Run it: `make bench` (full run, about 7 minutes on 2 cores, rewrites this file except the sections "Profile: top
costs", unless profiled again, and "What we changed"), or `.venv/bin/python tools/bench.py --help` for options:
`--quick` (smoke test: 10,000 alerts, one repetition, nothing written), `--mssp off`, `--profile on|off` (py-spy:
`.venv/bin/pip install py-spy`), `--cold-bytecode`, `--json FILE`. The MSSP part alone:
`.venv/bin/python tools/bench_mssp.py --tenants 200 --intervals 3`.
"""

WHAT_WE_CHANGED = """## What we changed

_For the lead to fill: changes made to the add-on because of these figures, with before/after numbers._
"""


def results_markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    parts = [
        "## Machine",
        "",
        md_table(["", ""], [[k, str(v)] for k, v in m.items()]),
        "",
        "## Backlog runs",
        "",
        f"{report.get('hostile_percent') or 0:g} % of the alerts carry characters XML 1.0 forbids "
        "(`--hostile-percent`; they are written as JSON escapes).",
        "",
        report["tables"]["backlog"],
        "",
        "## Idle runs",
        "",
        report["tables"]["idle"],
        "",
        "## Targets (issue #5)",
        "",
        report["targets_text"],
        "",
    ]
    if report.get("splunkd_calls_idle"):
        parts += [
            "splunkd REST calls of one idle run, in order:",
            "",
            "\n".join(f"{i}. `{p}`" for i, p in enumerate(report["splunkd_calls_idle"], 1)),
            "",
        ]
    if report.get("mssp"):
        parts += ["## MSSP scale (`tools/bench_mssp.py`)", "", report["mssp"]["markdown"], ""]
    return "\n".join(parts)


def _section(text: str, begin: str, end: str) -> Optional[str]:
    if begin in text and end in text:
        return text[text.index(begin) + len(begin) : text.index(end)].strip("\n")
    return None


def write_doc(path: Path, report: dict[str, Any], profile_md: Optional[str]) -> None:
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if profile_md is None:
        profile_md = _section(old, PROFILE_BEGIN, PROFILE_END) or "_Not profiled yet: run with `--profile on`._"
    changed = WHAT_WE_CHANGED
    if "## What we changed" in old:
        changed = old[old.index("## What we changed") :].rstrip() + "\n"
    text = "\n".join(
        [
            DOC_HEAD,
            RESULTS_BEGIN,
            results_markdown(report),
            RESULTS_END,
            "",
            "## Profile: top costs",
            "",
            PROFILE_BEGIN,
            profile_md,
            PROFILE_END,
            "",
            changed,
        ]
    )
    path.write_text(text, encoding="utf-8")


# ------------------------------------------------------------------------------------------
# main
# ------------------------------------------------------------------------------------------
def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Stat):
        return asdict(obj)
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and obj != obj:
        return None
    return obj


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="tools/bench.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--package", type=Path, default=None, help="dist/<app>-<version>.tar.gz (default: newest in dist/)")
    ap.add_argument("--python", default=None, help="Splunk's Python to run the input with (default: 3.9, else 3.13)")
    ap.add_argument("--quick", action="store_true", help="smoke test: one 10,000 backlog, one repetition, no extras")
    ap.add_argument("--sizes", default=None, help="comma-separated backlog sizes (default 10000,100000)")
    ap.add_argument("--reps", type=int, default=None, help="repetitions per backlog (default 3)")
    ap.add_argument("--mssp", choices=("on", "off"), default=None, help="run tools/bench_mssp.py too (default on)")
    ap.add_argument("--mssp-tenants", type=int, default=200)
    ap.add_argument("--mssp-intervals", type=int, default=3)
    ap.add_argument("--profile", choices=("auto", "on", "off"), default=None, help="py-spy profiles (default auto)")
    ap.add_argument(
        "--hostile-percent",
        type=float,
        default=0.0,
        help="share of alerts whose title and evidence carry U+FFFE/U+FFFF (characters XML 1.0 forbids)",
    )
    ap.add_argument("--cold-bytecode", action="store_true", help="no __pycache__: every run compiles its imports")
    ap.add_argument("--doc", type=Path, default=None, help=f"write the report here (default {DOC.relative_to(ROOT)})")
    ap.add_argument("--no-doc", action="store_true", help="do not write docs/PERFORMANCE.md")
    ap.add_argument("--json", type=Path, default=None, help="also write the report as JSON here")
    ap.add_argument("--workdir", type=Path, default=None, help="keep the work files here (default: a temp dir)")
    ns = ap.parse_args(argv)
    if ns.sizes is None:
        ns.sizes = "10000" if ns.quick else "10000,100000"
    ns.sizes = [int(x.replace("_", "")) for x in str(ns.sizes).split(",") if x.strip()]
    if ns.reps is None:
        ns.reps = 1 if ns.quick else 3
    if ns.mssp is None:
        ns.mssp = "off" if ns.quick else "on"
    if ns.profile is None:
        ns.profile = "off" if ns.quick else "auto"
    if ns.doc is None and not ns.quick and not ns.no_doc:
        ns.doc = DOC
    if ns.no_doc:
        ns.doc = None
    return ns


def main(argv: Optional[Sequence[str]] = None) -> int:
    ns = parse_args(argv)
    package = ns.package or newest_package()
    if package is None or not package.is_file():
        print("no package: run `make package` first, or pass --package", file=sys.stderr)
        return 2
    python = ns.python or find_python("3.9") or find_python("3.13")
    if not python:
        print("neither Python 3.9 nor 3.13 is installed: the input can only run under Splunk's Python", file=sys.stderr)
        return 2
    pyspy = find_pyspy() if ns.profile != "off" else None
    if ns.profile == "on" and not pyspy:
        print("--profile on needs py-spy: .venv/bin/pip install py-spy", file=sys.stderr)
        return 2
    started = time.monotonic()
    own_tmp = ns.workdir is None
    root = Path(tempfile.mkdtemp(prefix="bench-")) if own_tmp else ns.workdir
    root.mkdir(parents=True, exist_ok=True)
    try:
        ws = Workspace.create(package.resolve(), python, root, write_bytecode=not ns.cold_bytecode)
        report: dict[str, Any] = {
            "machine": machine(ws),
            "sizes": ns.sizes,
            "reps": ns.reps,
            "hostile_percent": ns.hostile_percent,
        }
        log(f"package {package.name}, input Python {report['machine']['input python']}, work in {root}")
        summaries = []
        profile: Optional[dict[str, Any]] = None
        imports: Optional[dict[str, Any]] = None
        for i, size in enumerate(ns.sizes):
            res, tenants, ids = run_backlog(ws, size, ns.reps, warm_up=i == 0, hostile_percent=ns.hostile_percent)
            try:
                summaries.append(summarize_backlog(res))
                if ns.profile != "off" and size == max(ns.sizes):
                    imports = import_profile(tenants, ACCOUNT, ids[0], ids[2])
                    if pyspy:
                        log("profiling one backlog run and idle runs with py-spy")
                        try:
                            profile = profile_runs(tenants, ACCOUNT, pyspy)
                        except (OSError, subprocess.SubprocessError) as error:
                            log(f"profiling failed: {error}")
            finally:
                tenants.close()
                del tenants, res
        mssp: Optional[dict[str, Any]] = None
        if ns.mssp == "on":
            mssp = bench_mssp.run_mssp(
                ws,
                tenants=ns.mssp_tenants,
                intervals=ns.mssp_intervals,
                single_tenant_idle_ms=summaries[0]["idle"]["cpu_s"].median * 1000 if summaries else None,
            )
        targets = evaluate_targets(summaries, mssp)
        report.update(
            {
                "backlogs": summaries,
                "tables": {"backlog": backlog_table(summaries), "idle": idle_table(summaries)},
                "targets": [asdict(t) for t in targets],
                "targets_text": targets_text(targets),
                "splunkd_calls_idle": summaries[0]["idle_splunkd_paths"] if summaries else [],
                "mssp": mssp,
                "profile": profile,
                "imports": imports,
                "seconds": round(time.monotonic() - started, 1),
            }
        )
        print()
        print(results_markdown(report))
        profile_md = profile_markdown(profile, imports, max(ns.sizes)) if (profile or imports) else None
        if profile_md:
            print("## Profile: top costs\n")
            print(profile_md)
        problems = [p for s in summaries for p in s["problems"]]
        for p in problems:
            print(f"PROBLEM: {p}")
        print(f"bench finished in {report['seconds']:.0f} s")
        if ns.doc:
            write_doc(ns.doc, report, profile_md)
            print(f"wrote {ns.doc}")
        if ns.json:
            ns.json.write_text(json.dumps(_jsonable(report), indent=1, default=str), encoding="utf-8")
        return 1 if problems else 0
    finally:
        if own_tmp:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
