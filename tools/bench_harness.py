"""The shared harness of `make bench` and `tools/bench_mssp.py`: stand-ins, tenants, and children measured alone.

Why this file exists: both benchmarks start the packaged input (and the bare reader) as
splunkd would, through a small reaper that reports each child's own rusage, against the
same stand-in stack with seeded tenants. Keeping that here lets each benchmark import it
without importing the other.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

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

    def seed_alerts(
        self, tenant_id: str, n: int, *, seed: int, days_back: float = 3.0, hostile_percent: float = 0.0
    ) -> None:
        """Seed *n* alerts; *hostile_percent* of them carry characters XML 1.0 forbids (U+FFFE, U+FFFF)
        in their title and evidence file name, as an attacker's file name can."""
        now = time.time()
        alerts = AlertFactory(seed, tenant_id).alerts(n, start=iso(now - days_back * DAY), end=iso(now - 60))
        every = round(100 / hostile_percent) if hostile_percent > 0 else 0
        for alert in alerts[::every] if every else []:
            alert["title"] = f"{alert.get('title') or ''} \uffff"
            for item in alert.get("evidence") or []:
                if item.get("fileName"):
                    item["fileName"] = f"\ufffe{item['fileName']}"
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


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def md_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def newest_package() -> Optional[Path]:
    built = sorted((ROOT / "dist").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return built[-1] if built else None
