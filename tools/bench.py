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
import itertools
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.pythons import find_python  # noqa: E402
from tests.standins.alerts_factory import AlertFactory  # noqa: E402
from tests.standins.launcher import (  # noqa: E402
    HOSTMAP_DIR,
    StandinStack,
    app_input_defaults,
    build_input_xml,
    child_env,
)

SCHEME = "defender_endpoint_alerts"
ACCOUNT = "bench"
SECRET = "bench-secret-Value~1"  # noqa: S105  (the stand-in's, nothing real)
DAY = 86_400
INTERVAL = 300  # seconds between polls of one input (the add-on's default)
MAX_RUNS = 5  # runs of one input allowed to ingest a backlog before giving up
IDLE_ROUNDS = 3  # idle runs per repetition, interleaved with the baseline's: an idle run is short and noisy
DOC = ROOT / "docs" / "PERFORMANCE.md"
BASELINE = ROOT / "tools" / "bench_baseline.py"
AUDIT_EVENTS = (
    "subprocess.Popen",
    "os.system",
    "os.exec",
    "os.spawn",
    "os.posix_spawn",
    "os.fork",
    "os.forkpty",
    "pty.spawn",
)

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
TARGET_TENANTS_PER_CORE = 1_500

# Forks the command in argv[2:], waits for it with os.wait4 and writes its rusage as
# JSON to argv[1]; exits with the command's exit code. Runs with -S -E: no site, no
# sitecustomize, so its own footprint (~7 MiB) is all the child inherits at fork.
REAPER = r"""
import json, os, sys, time
out, argv = sys.argv[1], sys.argv[2:]
started = time.monotonic()
pid = os.fork()
if pid == 0:
    try:
        os.execv(argv[0], argv)
    finally:
        os._exit(127)
while True:
    try:
        _, status, ru = os.wait4(pid, 0)
        break
    except InterruptedError:
        continue
wall = time.monotonic() - started
with open(out, "w") as fh:
    json.dump({"utime": ru.ru_utime, "stime": ru.ru_stime, "maxrss_kib": ru.ru_maxrss, "wall": wall,
               "minflt": ru.ru_minflt, "majflt": ru.ru_majflt, "nvcsw": ru.ru_nvcsw, "nivcsw": ru.ru_nivcsw,
               "status": status}, fh)
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""

# The child's sitecustomize: record process creation, then load the hostmap one.
AUDIT_SITECUSTOMIZE = '''"""Benchmark hook (written by tools/bench.py): record process creation, then chain."""
import os
import sys

_LOG = os.environ.get("BENCH_AUDIT_LOG")
_EVENTS = frozenset(__EVENTS__)

if _LOG:
    def _bench_audit(event, args, _events=_EVENTS, _log=_LOG):
        if event in _events:
            try:
                detail = args[1] if event == "subprocess.Popen" else args
                with open(_log, "a", encoding="utf-8") as fh:
                    fh.write("%d %s %s\\n" % (os.getpid(), event, repr(detail)[:300].replace("\\n", " ")))
            except Exception:
                pass

    sys.addaudithook(_bench_audit)

_CHAIN = os.environ.get("BENCH_CHAIN_SITECUSTOMIZE")
if _CHAIN:
    with open(_CHAIN, encoding="utf-8") as _fh:
        _code = compile(_fh.read(), _CHAIN, "exec")
    exec(_code, {"__name__": "_bench_chained_sitecustomize", "__file__": _CHAIN})
'''.replace("__EVENTS__", repr(AUDIT_EVENTS))


# ------------------------------------------------------------------------------------------
# Running one child and reading what it wrote
# ------------------------------------------------------------------------------------------
class EventCounter:
    """Counts complete ``<event>`` elements of a stream fed in chunks, and the alert ids in them."""

    _ID = re.compile(rb'<data>[^<]*?"id":"([^"]+)"')

    def __init__(self) -> None:
        self.events = 0
        self.ids: set[bytes] = set()
        self.bytes = 0
        self.closed = False
        self._carry = b""

    def feed(self, chunk: bytes) -> None:
        self.bytes += len(chunk)
        buf = self._carry + chunk
        end = buf.rfind(b"</event>")
        if end < 0:
            self._carry = buf
            return
        end += len(b"</event>")
        done, self._carry = buf[:end], buf[end:]
        self.events += done.count(b"</event>")
        self.ids.update(self._ID.findall(done))

    def finish(self) -> None:
        self.closed = self._carry.strip().endswith(b"</stream>")


@dataclass
class ChildResult:
    returncode: int
    cpu_s: float
    user_s: float
    sys_s: float
    wall_s: float
    rss_mib: float
    events: int
    unique_ids: int
    stream_closed: bool
    stdout_bytes: int
    stderr: str
    subprocesses: list[str]
    timed_out: bool
    dns_refused: list[str]


def run_child(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    stdin_text: str,
    cwd: Path,
    python: str,
    timeout: float,
    audit_log: Optional[Path] = None,
    dns_log: Optional[Path] = None,
) -> ChildResult:
    """Run *argv* under the reaper; feed stdin, count events on stdout, return rusage and counts."""
    cwd.mkdir(parents=True, exist_ok=True)
    fd, rusage_path = tempfile.mkstemp(prefix="rusage-", suffix=".json", dir=cwd)
    os.close(fd)
    popen = subprocess.Popen(
        [python, "-S", "-E", "-c", REAPER, rusage_path, *argv],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env),
        cwd=str(cwd),
        start_new_session=True,
        bufsize=0,
    )
    counter = EventCounter()
    err = bytearray()

    def feed() -> None:
        assert popen.stdin is not None
        with contextlib.suppress(OSError):
            popen.stdin.write(stdin_text.encode("utf-8"))
        with contextlib.suppress(OSError):
            popen.stdin.close()

    def drain_out() -> None:
        assert popen.stdout is not None
        fileno = popen.stdout.fileno()
        while True:
            chunk = os.read(fileno, 1 << 20)
            if not chunk:
                break
            counter.feed(chunk)

    def drain_err() -> None:
        assert popen.stderr is not None
        fileno = popen.stderr.fileno()
        while True:
            chunk = os.read(fileno, 1 << 16)
            if not chunk:
                break
            err.extend(chunk)

    threads = [threading.Thread(target=t, daemon=True) for t in (feed, drain_out, drain_err)]
    for t in threads:
        t.start()
    timed_out = False
    try:
        popen.wait(timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(popen.pid, signal.SIGKILL)
        popen.wait(30)
    for t in threads:
        t.join(timeout=30)
    counter.finish()
    for stream in (popen.stdout, popen.stderr):
        if stream is not None:
            stream.close()
    usage: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        usage = json.loads(Path(rusage_path).read_text())
    with contextlib.suppress(OSError):
        os.remove(rusage_path)
    subprocesses: list[str] = []
    if audit_log is not None and audit_log.exists():
        subprocesses = audit_log.read_text(encoding="utf-8").splitlines()
        audit_log.unlink()
    refused: list[str] = []
    if dns_log is not None and dns_log.exists():
        refused = sorted(set(dns_log.read_text().split()))
        dns_log.unlink()
    user, system = float(usage.get("utime", 0.0)), float(usage.get("stime", 0.0))
    return ChildResult(
        returncode=popen.returncode if popen.returncode is not None else -9,
        cpu_s=user + system,
        user_s=user,
        sys_s=system,
        wall_s=float(usage.get("wall", 0.0)),
        rss_mib=float(usage.get("maxrss_kib", 0)) / 1024,
        events=counter.events,
        unique_ids=len(counter.ids),
        stream_closed=counter.closed,
        stdout_bytes=counter.bytes,
        stderr=err.decode("utf-8", "replace"),
        subprocesses=subprocesses,
        timed_out=timed_out,
        dns_refused=refused,
    )


# ------------------------------------------------------------------------------------------
# The unpacked package, Splunk's Python, and the environment children get
# ------------------------------------------------------------------------------------------
@dataclass
class Workspace:
    package: Path
    python: str
    root: Path
    app_dir: Path
    audit_dir: Path
    write_bytecode: bool = True
    timeout: float = 900.0

    @classmethod
    def create(cls, package: Path, python: str, root: Path, *, write_bytecode: bool = True) -> Workspace:
        apps = root / "etc" / "apps"
        apps.mkdir(parents=True, exist_ok=True)
        with tarfile.open(package) as archive:
            if sys.version_info >= (3, 12):
                archive.extractall(apps, filter="data")
            else:
                archive.extractall(apps)  # noqa: S202  (our own freshly built package)
        (app,) = [p for p in apps.iterdir() if p.is_dir()]
        audit = root / "audit-site"
        audit.mkdir(exist_ok=True)
        (audit / "sitecustomize.py").write_text(AUDIT_SITECUSTOMIZE, encoding="utf-8")
        return cls(package, python, root, app, audit, write_bytecode)

    @property
    def splunk_home(self) -> Path:
        return self.root / "splunk"

    def python_version(self) -> str:
        out = subprocess.run(
            [self.python, "-c", "import sys; print(sys.version.split()[0])"],
            capture_output=True,
            text=True,
            check=False,
        )
        return out.stdout.strip() or "?"

    def ca_bundle(self, stack: StandinStack) -> Path:
        """The package's certifi bundle plus the stand-ins' CA: TLS set-up costs what it costs against Microsoft.

        With the stand-in CA alone (one certificate) every TLS connection to the "Microsoft"
        hosts would skip parsing the ~140 certificates a real bundle holds.
        """
        path = Path(stack.workdir) / "ca-bundle-with-certifi.pem"
        if not path.exists():
            certifi = self.app_dir / "lib" / "certifi" / "cacert.pem"
            text = certifi.read_text(encoding="utf-8") if certifi.exists() else ""
            path.write_text(text + "\n" + stack.tls.ca.read_text(encoding="utf-8"), encoding="utf-8")
        return path

    def env(self, stack: StandinStack, audit_log: Path, dns_log: Path) -> dict[str, str]:
        return child_env(
            hostmap=stack.hostmap,
            ca_path=str(self.ca_bundle(stack)),
            dns_log=str(dns_log),
            splunk_home=str(self.splunk_home),
            env_extra={
                "PYTHONPATH": str(self.audit_dir),
                "BENCH_AUDIT_LOG": str(audit_log),
                "BENCH_CHAIN_SITECUSTOMIZE": str(HOSTMAP_DIR / "sitecustomize.py"),
                # "" = unset for Python: write __pycache__ into the unpacked copy, as a forwarder does
                "PYTHONDONTWRITEBYTECODE": "" if self.write_bytecode else "1",
            },
        )


# ------------------------------------------------------------------------------------------
# One measured run
# ------------------------------------------------------------------------------------------
@dataclass
class Sample:
    kind: str  # input | baseline | baseline-msal
    events: int
    unique_ids: int
    cpu_s: float
    wall_s: float
    rss_mib: float
    api_calls: int
    token_requests: int
    oidc_requests: int
    throttled: int
    splunkd_calls: int
    alerts_returned: int  # alerts in the API's answers (an idle input re-reads its overlap window)
    subprocesses: list[str]
    returncode: int
    stream_closed: bool
    splunkd_paths: list[str] = field(default_factory=list)
    newest: Optional[str] = None  # baseline: newest lastUpdateTime written
    problems: list[str] = field(default_factory=list)

    @property
    def cpu_ms_per_1k(self) -> float:
        return self.cpu_s * 1000 / (self.events / 1000) if self.events else float("nan")

    @property
    def alerts_per_s(self) -> float:
        return self.events / self.wall_s if self.wall_s else float("nan")


def iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class Tenants:
    """One stand-in stack; tenants in the Microsoft stand-in, accounts in the splunkd stand-in; runs."""

    def __init__(self, ws: Workspace, name: str) -> None:
        self.ws = ws
        self.work = ws.root / name
        self.stack = StandinStack(self.work / "stack", app_default_dir=ws.app_dir / "default").start()
        self.defaults = app_input_defaults(ws.app_dir, SCHEME)
        self._seq = itertools.count(1)  # run directories; next() is atomic under the GIL (MSSP runs in threads)
        assert self.stack.splunkd is not None
        self.splunkd = self.stack.splunkd
        self.splunkd.seed_settings(loglevel="INFO")

    def close(self) -> None:
        self.stack.stop()

    def add_tenant(self, account: str, *, seeding: str = "solnlib") -> tuple[str, str, str]:
        """A tenant with an app for the input (its account in splunkd) and one for the baseline."""
        ms = self.stack.microsoft
        tenant = ms.add_tenant()
        app = ms.add_app(tenant.tenant_id, secret=SECRET)
        baseline_app = ms.add_app(tenant.tenant_id, secret=SECRET)  # its own rate-limit budget
        self.splunkd.seed_account(
            account, tenant.tenant_id, app.client_id, "commercial", client_secret=SECRET, method=seeding
        )
        return tenant.tenant_id, app.client_id, baseline_app.client_id

    def seed_alerts(self, tenant_id: str, n: int, *, seed: int, days_back: float = 3.0) -> None:
        now = time.time()
        alerts = AlertFactory(seed, tenant_id).alerts(n, start=iso(now - days_back * DAY), end=iso(now - 60))
        self.stack.microsoft.add_alerts(tenant_id, alerts)

    def counters(self) -> tuple[int, int, int, int, int, int]:
        """API calls, token requests, OIDC discoveries, 429s, splunkd calls, alerts the API returned."""
        ms = self.stack.microsoft
        api = [r for r in ms.requests if r.kind == "api"]
        return (
            len(api),
            ms.count("token"),
            ms.count("oidc"),
            sum(1 for r in api if r.status == 429),
            self.splunkd.count(),
            sum(r.alerts for r in api),
        )

    def child(self, argv: Sequence[str], stdin_text: str, env_extra: Optional[Mapping[str, str]] = None) -> ChildResult:
        cwd = self.work / "runs" / f"{next(self._seq):05d}"
        audit_log, dns_log = cwd / "audit.log", cwd / "dns.log"
        env = self.ws.env(self.stack, audit_log, dns_log)
        env.update(env_extra or {})
        return run_child(
            argv,
            env=env,
            stdin_text=stdin_text,
            cwd=cwd,
            python=self.ws.python,
            timeout=self.ws.timeout,
            audit_log=audit_log,
            dns_log=dns_log,
        )

    def _sample(self, kind: str, result: ChildResult, before: tuple[int, ...], splunkd_seq: int) -> Sample:
        after = self.counters()
        delta = [a - b for a, b in zip(after, before)]
        problems = []
        if result.returncode != 0:
            problems.append(f"exit code {result.returncode}: {result.stderr.strip()[-300:]}")
        if result.timed_out:
            problems.append("timed out")
        if result.dns_refused:
            problems.append(f"asked for unmapped hosts {result.dns_refused}")
        if not result.stream_closed and result.returncode == 0:
            problems.append("event stream not closed with </stream>")
        paths = [
            f"{r.method} {r.path.split('/TA-defender-endpoint-alerts/')[-1]}"
            for r in self.splunkd.requests[splunkd_seq:]
        ]
        return Sample(
            kind=kind,
            events=result.events,
            unique_ids=result.unique_ids,
            cpu_s=result.cpu_s,
            wall_s=result.wall_s,
            rss_mib=result.rss_mib,
            api_calls=delta[0],
            token_requests=delta[1],
            oidc_requests=delta[2],
            throttled=delta[3],
            splunkd_calls=delta[4],
            alerts_returned=delta[5],
            subprocesses=result.subprocesses,
            returncode=result.returncode,
            stream_closed=result.stream_closed,
            splunkd_paths=paths,
            problems=problems,
        )

    def input_stdin(self, names: Iterable[tuple[str, str]], checkpoint_dir: Path) -> str:
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
        stanzas = {n: {"account": a, "index": "mde", "start": "7", "interval": str(INTERVAL)} for n, a in names}
        return build_input_xml(
            self.stack.server_uri, self.stack.session_key, str(checkpoint_dir), stanzas, defaults=self.defaults
        )

    def input_argv(self, prefix: Sequence[str] = ()) -> list[str]:
        return [*prefix, self.ws.python, str(self.ws.app_dir / "bin" / f"{SCHEME}.py")]

    def launch_input(self, name: str, account: str, checkpoint_dir: Path, *, prefix: Sequence[str] = ()) -> ChildResult:
        """One run of the packaged input for one stanza, as splunkd starts a non-single-instance input."""
        return self.child(self.input_argv(prefix), self.input_stdin([(name, account)], checkpoint_dir))

    def run_input(self, name: str, account: str, checkpoint_dir: Path, *, prefix: Sequence[str] = ()) -> Sample:
        """:meth:`launch_input` with the API, token and splunkd calls it made (runs one at a time)."""
        before, seq = self.counters(), len(self.splunkd.requests)
        result = self.launch_input(name, account, checkpoint_dir, prefix=prefix)
        return self._sample("input", result, before, seq)

    def run_baseline(
        self, tenant_id: str, client_id: str, since: str, *, exclusive: bool = False, use_msal: bool = False
    ) -> Sample:
        argv = [
            self.ws.python,
            str(BASELINE),
            "--app",
            str(self.ws.app_dir),
            "--tenant",
            tenant_id,
            "--client-id",
            client_id,
            "--since",
            since,
        ]
        argv += ["--exclusive"] if exclusive else []
        argv += ["--msal"] if use_msal else []
        before, seq = self.counters(), len(self.splunkd.requests)
        result = self.child(argv, "", {"BENCH_CLIENT_SECRET": SECRET})
        sample = self._sample("baseline-msal" if use_msal else "baseline", result, before, seq)
        for line in result.stderr.splitlines():
            if line.startswith("BENCH_BASELINE "):
                sample.newest = json.loads(line[len("BENCH_BASELINE ") :]).get("newest")
        return sample


# ------------------------------------------------------------------------------------------
# Backlogs
# ------------------------------------------------------------------------------------------
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


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_backlog(
    ws: Workspace, size: int, reps: int, *, warm_up: bool
) -> tuple[BacklogResult, Tenants, tuple[str, str, str]]:
    """Seed *size* alerts once, then per repetition: input backlog run(s), idle run, baseline, baseline idle."""
    tenants = Tenants(ws, f"backlog-{size}")
    ids = tenants.add_tenant(ACCOUNT)
    tenant_id, _, baseline_client = ids
    started = time.monotonic()
    tenants.seed_alerts(tenant_id, size, seed=size)
    seed_seconds = time.monotonic() - started
    log(f"seeded {size:,} alerts in {seed_seconds:.1f}s")
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


def md_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


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
def newest_package() -> Optional[Path]:
    built = sorted((ROOT / "dist").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return built[-1] if built else None


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
        report: dict[str, Any] = {"machine": machine(ws), "sizes": ns.sizes, "reps": ns.reps}
        log(f"package {package.name}, input Python {report['machine']['input python']}, work in {root}")
        summaries = []
        profile: Optional[dict[str, Any]] = None
        imports: Optional[dict[str, Any]] = None
        for i, size in enumerate(ns.sizes):
            res, tenants, ids = run_backlog(ws, size, ns.reps, warm_up=i == 0)
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
            sys.modules.setdefault("bench", sys.modules[__name__])  # bench_mssp imports this module by name
            import bench_mssp  # tools/ is on sys.path when this file runs as a script

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
