"""Start the stand-ins and run the packaged modular input the way splunkd does.

Why this file exists: the add-on is only proven when its *packaged* input script runs
as splunkd runs it: ``python bin/defender_endpoint_alerts.py`` with an XML
configuration on stdin (server_uri, session_key, checkpoint_dir, one ``<stanza>`` per
input), writing an XML event stream on stdout and log lines on stderr. This module

* starts the Microsoft and splunkd stand-ins (threads in this process, or a separate
  process with ``python -m tests.standins.launcher``), with one throwaway CA;
* builds the child's environment: the hostmap ``sitecustomize`` on ``PYTHONPATH`` so
  Microsoft's real hostnames reach the stand-in, ``REQUESTS_CA_BUNDLE`` pointing at
  the CA, no inherited proxy or ``SPLUNK_HOME`` (unless asked), no ``.pyc`` written
  into the package;
* runs the child, collects stdout/stderr and its resource usage (``os.wait4``: peak
  RSS, user/system CPU), kills it (SIGKILL to its own process group) on timeout, or
  hands it back running so a test can ``kill -9`` it mid-stream;
* parses the event stream, keeping only complete ``<event>`` elements, which is what
  splunkd does with a stream cut short.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from .microsoft import MicrosoftStandin
from .splunkd import APP_ID, SplunkdStandin, parse_conf_text
from .tls import TlsPaths, make_tls_material

HOSTMAP_DIR = Path(__file__).resolve().parent / "hostmap"
RUSAGE_EXEC = Path(__file__).resolve().parent / "rusage_exec.py"


@dataclass(frozen=True)
class _Usage:
    """The fields of resource.struct_rusage that the tests and benchmarks read."""

    ru_maxrss: int
    ru_utime: float
    ru_stime: float


SCHEME = "defender_endpoint_alerts"
# Inherited variables that would change where the child connects or what it trusts.
_STRIP_ENV = {
    "SPLUNK_HOME",
    "SPLUNKD_URI",
    "SPLUNK_BINDIP",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "MSAL_FORCE_REGION",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "MDE_STANDIN_HOSTMAP",
    "MDE_STANDIN_HOSTMAP_STRICT",
    "MDE_STANDIN_DNS_LOG",
}


# ------------------------------------------------------------------------------------------
# stdin XML and the event stream
# ------------------------------------------------------------------------------------------
def build_input_xml(
    server_uri: str,
    session_key: str,
    checkpoint_dir: str,
    stanzas: Mapping[str, Mapping[str, Any]],
    *,
    server_host: str = "standin-hf",
    app: str = APP_ID,
    scheme: str = SCHEME,
    defaults: Mapping[str, str] | None = None,
) -> str:
    """The configuration splunkd writes to a modular input's stdin.

    ``stanzas`` maps input names (``"prod"`` or ``"defender_endpoint_alerts://prod"``) to
    their parameters. Like splunkd, each stanza also carries ``host``, ``index`` and the
    scheme's inputs.conf defaults (*defaults*, e.g. from :func:`app_input_defaults`)
    unless it sets them itself. A list value becomes a ``<param_list>``.
    """
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        "<input>",
        f"  <server_host>{escape(server_host)}</server_host>",
        f"  <server_uri>{escape(server_uri)}</server_uri>",
        f"  <session_key>{escape(session_key)}</session_key>",
        f"  <checkpoint_dir>{escape(checkpoint_dir)}</checkpoint_dir>",
        "  <configuration>",
    ]
    for name, params in stanzas.items():
        full = name if "://" in name else f"{scheme}://{name}"
        merged: dict[str, Any] = {"host": server_host, "index": "default"}
        merged.update(defaults or {})
        merged.update(params)
        lines.append(f"    <stanza name={quoteattr(full)} app={quoteattr(app)}>")
        for k, v in merged.items():
            if isinstance(v, (list, tuple)):
                items = "".join(f"<value>{escape(str(x))}</value>" for x in v)
                lines.append(f"      <param_list name={quoteattr(k)}>{items}</param_list>")
            else:
                lines.append(f"      <param name={quoteattr(k)}>{escape(_param(v))}</param>")
        lines.append("    </stanza>")
    lines += ["  </configuration>", "</input>", ""]
    return "\n".join(lines)


def app_input_defaults(app_dir: str | Path, scheme: str = SCHEME) -> dict[str, str]:
    """``[default]`` and ``[<scheme>]`` of the app's default/ and local/ inputs.conf, merged."""
    out: dict[str, str] = {}
    for layer in ("default", "local"):
        path = Path(app_dir) / layer / "inputs.conf"
        if path.is_file():
            conf = parse_conf_text(path.read_text(encoding="utf-8", errors="replace"))
            out.update(conf.get("default", {}))
            out.update(conf.get(scheme, {}))
    return out


def _param(v: Any) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    return "" if v is None else str(v)


@dataclass
class StreamParse:
    events: list[dict[str, Any]]
    complete: bool  # the stream was closed with </stream>
    trailing: str  # bytes after the last complete event (a cut-off event, if any)


def parse_event_stream_detailed(text: str) -> StreamParse:
    """Complete ``<event>`` elements of a modular input's stdout, in order.

    Event text cannot contain a literal ``</event>`` (``<`` is escaped), so the stream
    is split on it; an event cut off by kill -9 has no closing tag and is dropped, as
    splunkd drops it.
    """
    events: list[dict[str, Any]] = []
    pos = 0
    while True:
        start = text.find("<event", pos)
        if start < 0:
            break
        end = text.find("</event>", start)
        if end < 0:
            break
        elem = ET.fromstring(text[start : end + len("</event>")])
        ev: dict[str, Any] = {
            "stanza": elem.get("stanza"),
            "unbroken": elem.get("unbroken"),
            "done": elem.find("done") is not None,
        }
        for tag in ("time", "data", "source", "sourcetype", "index", "host"):
            child = elem.find(tag)
            ev[tag] = None if child is None else (child.text or "")
        events.append(ev)
        pos = end + len("</event>")
    tail = text[pos:]
    return StreamParse(events, tail.strip().endswith("</stream>"), tail)


def parse_event_stream(text: str) -> list[dict[str, Any]]:
    return parse_event_stream_detailed(text).events


# ------------------------------------------------------------------------------------------
# Running the child
# ------------------------------------------------------------------------------------------
@dataclass
class RunResult:
    stdout: str
    stderr: str
    returncode: int
    rusage: resource.struct_rusage | _Usage | None
    wall_seconds: float
    timed_out: bool = False
    killed: bool = False
    dns_refused: list[str] = field(default_factory=list)  # names the hostmap refused
    stdin: str = ""
    env: dict[str, str] = field(default_factory=dict)

    @property
    def events(self) -> list[dict[str, Any]]:
        return parse_event_stream(self.stdout)

    @property
    def stream(self) -> StreamParse:
        return parse_event_stream_detailed(self.stdout)

    @property
    def max_rss_mb(self) -> float:
        # Linux reports ru_maxrss in KiB (macOS in bytes)
        if self.rusage is None:
            return 0.0
        div = 1024 * 1024 if sys.platform == "darwin" else 1024
        return self.rusage.ru_maxrss / div

    @property
    def cpu_seconds(self) -> float:
        return 0.0 if self.rusage is None else self.rusage.ru_utime + self.rusage.ru_stime


class ModinputRun:
    """A running child: ``popen``, ``kill9()``, ``wait_for_events(n)``, ``result()``."""

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        stdin_text: str,
        env: dict[str, str],
        dns_log: Path | None,
        usage_report: Path | None = None,
    ):
        self._usage_report = usage_report
        self.popen = popen
        self.pid = popen.pid
        self._stdin_text = stdin_text
        self._env = env
        self._dns_log = dns_log
        self._out = bytearray()
        self._err = bytearray()
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._status: int | None = None
        self._rusage: resource.struct_rusage | _Usage | None = None
        self._ended = threading.Event()
        self.killed = False
        self.timed_out = False
        self._threads = [
            threading.Thread(target=self._feed, daemon=True),
            threading.Thread(target=self._drain, args=(popen.stdout, self._out), daemon=True),
            threading.Thread(target=self._drain, args=(popen.stderr, self._err), daemon=True),
            threading.Thread(target=self._reap, daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _feed(self) -> None:
        assert self.popen.stdin is not None
        try:
            self.popen.stdin.write(self._stdin_text.encode("utf-8"))
            self.popen.stdin.close()
        except OSError:
            pass

    def _drain(self, stream: Any, sink: bytearray) -> None:
        for _ in range(10**9):
            chunk = stream.read1(65536)
            if not chunk:
                break
            with self._lock:
                sink += chunk

    def _reap(self) -> None:
        _, status, usage = os.wait4(self.pid, 0)
        self._status = os.waitstatus_to_exitcode(status)
        self._rusage = usage
        if self._usage_report is not None and self._usage_report.exists():
            # the input's own figures, measured by rusage_exec (see its docstring)
            measured = json.loads(self._usage_report.read_text())
            self._rusage = _Usage(measured["ru_maxrss"], measured["ru_utime"], measured["ru_stime"])
        self.popen.returncode = self._status  # we reaped it; keep Popen from waiting again
        self._ended.set()

    @property
    def stdout_so_far(self) -> str:
        with self._lock:
            return self._out.decode("utf-8", "replace")

    def events_so_far(self) -> list[dict[str, Any]]:
        return parse_event_stream(self.stdout_so_far)

    def wait_for_events(self, n: int, timeout: float = 60.0) -> bool:
        """Poll until at least *n* complete events were written (True) or timeout/exit (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                count = self._out.count(b"</event>")
            if count >= n:
                return True
            if self._ended.is_set():
                return False
            time.sleep(0.02)
        return False

    def kill9(self) -> None:
        """SIGKILL the child's process group (it was started in its own session)."""
        if not self._ended.is_set():
            self.killed = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)

    def result(self, timeout: float = 120.0) -> RunResult:
        if not self._ended.wait(timeout):
            self.timed_out = True
            self.kill9()
            self._ended.wait(10)
        for t in self._threads[1:3]:
            t.join(timeout=10)
        refused: list[str] = []
        if self._dns_log is not None and self._dns_log.exists():
            refused = sorted(set(self._dns_log.read_text().split()))
        with self._lock:
            out, err = self._out.decode("utf-8", "replace"), self._err.decode("utf-8", "replace")
        return RunResult(
            stdout=out,
            stderr=err,
            returncode=self._status if self._status is not None else -9,
            rusage=self._rusage,
            wall_seconds=time.monotonic() - self._started,
            timed_out=self.timed_out,
            killed=self.killed,
            dns_refused=refused,
            stdin=self._stdin_text,
            env=self._env,
        )


def child_env(
    *,
    hostmap: Mapping[str, str],
    ca_path: str | None,
    dns_log: str | None = None,
    splunk_home: str | None = None,
    env_extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.upper() not in _STRIP_ENV}
    env["PYTHONPATH"] = str(HOSTMAP_DIR)
    env["MDE_STANDIN_HOSTMAP"] = json.dumps(dict(hostmap))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if dns_log:
        env["MDE_STANDIN_DNS_LOG"] = dns_log
    if ca_path:
        env["REQUESTS_CA_BUNDLE"] = ca_path
    if splunk_home:
        for sub in ("var/log/splunk", "var/lib/splunk/modinputs", "etc/apps"):
            Path(splunk_home, sub).mkdir(parents=True, exist_ok=True)
        env["SPLUNK_HOME"] = splunk_home
    env.update(env_extra or {})
    return env


def run_modinput_async(
    app_dir: str | Path,
    stanzas: Mapping[str, Mapping[str, Any]],
    *,
    stack: StandinStack,
    python: str = sys.executable,
    env_extra: Mapping[str, str] | None = None,
    checkpoint_dir: str | Path | None = None,
    splunk_home: str | Path | None = None,
    script: str = f"{SCHEME}.py",
    args: tuple[str, ...] = (),
    stdin_text: str | None = None,
    cwd: str | Path | None = None,
    merge_app_defaults: bool = True,
    trust_ca_via_env: bool = True,
) -> ModinputRun:
    """Start ``python <app_dir>/bin/<script>`` with splunkd's stdin XML; return it running.

    ``trust_ca_via_env=False`` leaves ``REQUESTS_CA_BUNDLE`` unset, to prove that the
    add-on's own ``ca_bundle_path`` setting is used (requests lets that variable override
    an explicit ``verify=``, so with it set such a test would pass for the wrong reason).
    """
    work = Path(tempfile.mkdtemp(prefix="modinput-", dir=stack.workdir))
    ckpt = Path(checkpoint_dir) if checkpoint_dir else work / "checkpoints"
    ckpt.mkdir(parents=True, exist_ok=True)
    if stdin_text is None:
        defaults = app_input_defaults(app_dir, Path(script).stem) if merge_app_defaults else {}
        stdin_text = build_input_xml(stack.server_uri, stack.session_key, str(ckpt), stanzas, defaults=defaults)
    dns_log = work / "dns_refused.log"
    env = child_env(
        hostmap=stack.hostmap,
        ca_path=str(stack.tls.ca) if trust_ca_via_env else None,
        dns_log=str(dns_log),
        splunk_home=str(splunk_home) if splunk_home else None,
        env_extra=env_extra,
    )
    usage_report = work / "rusage.json"
    popen = subprocess.Popen(
        [python, str(RUSAGE_EXEC), str(usage_report), python, str(Path(app_dir) / "bin" / script), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=str(cwd or work),
        start_new_session=True,
    )
    return ModinputRun(popen, stdin_text, env, dns_log, usage_report)


def run_modinput(
    app_dir: str | Path,
    stanzas: Mapping[str, Mapping[str, Any]],
    *,
    stack: StandinStack,
    python: str = sys.executable,
    env_extra: Mapping[str, str] | None = None,
    timeout: float = 120.0,
    **kwargs: Any,
) -> RunResult:
    """Run the input to completion (SIGKILL after *timeout*) and return what it did."""
    run = run_modinput_async(app_dir, stanzas, stack=stack, python=python, env_extra=env_extra, **kwargs)
    return run.result(timeout)


# ------------------------------------------------------------------------------------------
# Both stand-ins together
# ------------------------------------------------------------------------------------------
class StandinStack:
    """TLS material + Microsoft stand-in + splunkd stand-in, started together.

    ``with StandinStack() as stack: ...`` then ``stack.microsoft``, ``stack.splunkd``,
    ``stack.server_uri``, ``stack.session_key``, ``stack.hostmap``, ``stack.tls.ca``.
    """

    def __init__(
        self,
        workdir: str | Path | None = None,
        *,
        session_key: str | None = None,
        app_default_dir: str | Path | None = None,
        microsoft: Mapping[str, Any] | None = None,
        splunkd: Mapping[str, Any] | None = None,
        with_splunkd: bool = True,
    ) -> None:
        self._own_tmp = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="standins-"))
        self.tls: TlsPaths = make_tls_material(self.workdir / "tls")
        self.microsoft = MicrosoftStandin(str(self.tls.cert), str(self.tls.key), **dict(microsoft or {}))
        self.splunkd: SplunkdStandin | None = (
            SplunkdStandin(
                str(self.tls.cert),
                str(self.tls.key),
                session_key=session_key,
                app_default_dir=app_default_dir,
                **dict(splunkd or {}),
            )
            if with_splunkd
            else None
        )

    def start(self) -> StandinStack:
        self.microsoft.start()
        if self.splunkd is not None:
            self.splunkd.start()
        return self

    def stop(self) -> None:
        self.microsoft.stop()
        if self.splunkd is not None:
            self.splunkd.stop()

    def __enter__(self) -> StandinStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def hostmap(self) -> dict[str, str]:
        return self.microsoft.hostmap()

    @property
    def hostmap_json(self) -> str:
        return json.dumps(self.hostmap)

    @property
    def server_uri(self) -> str:
        assert self.splunkd is not None, "started without splunkd"
        return self.splunkd.server_uri

    @property
    def session_key(self) -> str:
        assert self.splunkd is not None, "started without splunkd"
        return self.splunkd.session_key

    def run_modinput(self, app_dir: str | Path, stanzas: Mapping[str, Mapping[str, Any]], **kwargs: Any) -> RunResult:
        return run_modinput(app_dir, stanzas, stack=self, **kwargs)

    def run_modinput_async(
        self, app_dir: str | Path, stanzas: Mapping[str, Mapping[str, Any]], **kwargs: Any
    ) -> ModinputRun:
        return run_modinput_async(app_dir, stanzas, stack=self, **kwargs)

    def describe(self) -> dict[str, Any]:
        return {
            "microsoft_port": self.microsoft.port,
            "splunkd_port": self.splunkd.port if self.splunkd else None,
            "server_uri": self.splunkd.server_uri if self.splunkd else None,
            "session_key": self.splunkd.session_key if self.splunkd else None,
            "ca": str(self.tls.ca),
            "hostmap": self.hostmap,
            "hostmap_dir": str(HOSTMAP_DIR),
            "workdir": str(self.workdir),
        }


def main(argv: list[str] | None = None) -> int:
    """Serve both stand-ins until SIGINT/SIGTERM; print one JSON line describing them."""
    ap = argparse.ArgumentParser(prog="python -m tests.standins.launcher")
    ap.add_argument("--port", type=int, default=0, help="Microsoft stand-in port (0 = any)")
    ap.add_argument("--splunkd-port", type=int, default=0)
    ap.add_argument("--no-splunkd", action="store_true")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--session-key", default=None)
    ap.add_argument("--tenant-id", default="8d5f2c1e-6b1a-4f0e-9c3d-2a7b4e6f8a01")
    ap.add_argument("--cloud", default="commercial")
    ap.add_argument("--geo", default="us")
    ap.add_argument("--client-id", default="0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0")
    ap.add_argument("--client-secret", default="standin-secret")
    ap.add_argument("--seed-alerts", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--start", default="2024-01-01T00:00:00Z")
    ap.add_argument("--end", default="2024-01-08T00:00:00Z")
    ap.add_argument("--emit-next-link", action="store_true")
    ap.add_argument("--rate-limits", default="100,1500")
    ap.add_argument("--rate-windows", default="60,3600")
    ap.add_argument("--account", default="standin", help="account stanza to seed in splunkd")
    ns = ap.parse_args(argv)

    per_min, per_hour = (int(x) for x in ns.rate_limits.split(","))
    win_min, win_hour = (float(x) for x in ns.rate_windows.split(","))
    stack = StandinStack(
        ns.workdir,
        session_key=ns.session_key,
        microsoft={
            "port": ns.port,
            "emit_next_link": ns.emit_next_link,
            "rate_limits": (per_min, per_hour),
            "rate_windows": (win_min, win_hour),
        },
        splunkd={"port": ns.splunkd_port},
        with_splunkd=not ns.no_splunkd,
    ).start()
    ms = stack.microsoft
    tenant = ms.add_tenant(ns.tenant_id, cloud=ns.cloud, geo=ns.geo)
    ms.add_app(tenant.tenant_id, ns.client_id, secret=ns.client_secret)
    if ns.seed_alerts:
        from .alerts_factory import AlertFactory

        ms.add_alerts(
            tenant.tenant_id, AlertFactory(ns.seed, tenant.tenant_id).alerts(ns.seed_alerts, start=ns.start, end=ns.end)
        )
    if stack.splunkd is not None:
        stack.splunkd.seed_account(ns.account, tenant.tenant_id, ns.client_id, ns.cloud, client_secret=ns.client_secret)
        stack.splunkd.seed_settings()
    info = stack.describe() | {"tenant_id": tenant.tenant_id, "client_id": ns.client_id, "account": ns.account}
    print(json.dumps(info), flush=True)

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    stack.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
