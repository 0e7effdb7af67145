"""The splunkd stand-in serves an app's own UCC REST handlers (restmap.conf ``admin_external``).

Why this file exists: the setup pages talk to the add-on's generated handlers
(``bin/<restRoot>_rh_<name>.py``), which splunkd runs in its own Python. This extension
of :class:`~tests.standins.splunkd.SplunkdStandin` maps each ``admin_external:<name>``
endpoint of the app's ``default/restmap.conf`` to a persistent
``tests/standins/rest_worker.py`` process (Splunk's Python, the package's ``lib/``, the
``splunk.admin`` shim), turns the HTTP request into an admin action (GET list, POST
create or edit, DELETE remove) and renders the handler's ``confInfo`` as splunkd does.
A handler's exception comes back as splunkd wraps it: status 500 and
``Unexpected error "<class ...>" from python handler: "<str(error)>". See
splunkd.log/python.log for more details.`` (the shape UCC's UI parses; FACTS.md §10).
The handlers call back into the same splunkd stand-in for conf files, passwords, KV
store and data/inputs, and reach Microsoft's hostnames through the hostmap.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from ._server import Request, Response
from .splunkd import Entry, SplunkdError, SplunkdStandin, make_acl, parse_conf_text

WORKER = Path(__file__).resolve().parent / "rest_worker.py"
ADMIN_SHIM = Path(__file__).resolve().parent / "admin_shim"
# Query arguments splunkd consumes itself; the rest reach the handler's callerArgs.
SPLUNKD_ARGS = ("output_mode", "count", "offset", "search", "sort_key", "sort_dir", "sort_mode", "f", "summarize")


class _Worker:
    """One handler process (restmap.conf ``handlerpersistentmode = true``); one request at a time."""

    def __init__(self, python: str, env: Mapping[str, str], log: IO[bytes]) -> None:
        self._args = [python, str(WORKER)]
        self._env = dict(env)
        self._log = log
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None

    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        line = (json.dumps(request) + "\n").encode("utf-8")
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._proc = subprocess.Popen(
                    self._args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, env=self._env
                )
            assert self._proc.stdin is not None and self._proc.stdout is not None
            try:
                self._proc.stdin.write(line)
                self._proc.stdin.flush()
                answer = self._proc.stdout.readline()
            except OSError:
                answer = b""
            if not answer:
                self._proc.kill()
                self._proc = None
                return {"ok": False, "class": "<class 'RuntimeError'>", "text": "the handler process died"}
            result: dict[str, Any] = json.loads(answer)
            return result

    def close(self) -> None:
        with self._lock:
            if self._proc is not None:
                if self._proc.stdin is not None:
                    self._proc.stdin.close()
                try:
                    self._proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
                self._proc = None


class AdminHandlers:
    """Every ``admin_external`` endpoint of one app, each served by its own worker."""

    def __init__(self, app_dir: Path, python: str, env: Mapping[str, str], log_path: Path) -> None:
        self.app_dir = app_dir
        restmap = parse_conf_text((app_dir / "default" / "restmap.conf").read_text(encoding="utf-8"))
        self.scripts = {
            stanza.split(":", 1)[1]: app_dir / "bin" / values["handlerfile"]
            for stanza, values in restmap.items()
            if stanza.startswith("admin_external:")
        }
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = log_path
        self._log = log_path.open("ab")
        self._workers = {name: _Worker(python, env, self._log) for name in self.scripts}
        self.calls: list[tuple[str, str, str | None]] = []  # (endpoint, action, entity)

    def classify(self, seg: list[str]) -> str | None:
        return "rest-handler" if seg and seg[0] in self.scripts else None

    def handle(
        self,
        splunkd: SplunkdStandin,
        req: Request,
        ns: tuple[str, str],
        seg: list[str],
        params: dict[str, str],
        form: dict[str, str],
        json_out: bool,
    ) -> Response | None:
        if not seg or seg[0] not in self.scripts:
            return None
        endpoint, rest = seg[0], seg[1:]
        owner, app = ns
        if rest[1:] or (rest and rest[0] in ("_new", "_reload")):
            raise SplunkdError(404, "Not Found")
        name = rest[0] if rest else None
        data: dict[str, list[str]] = {}
        if req.method == "GET":
            action = "list"
            pairs = [(k, v) for k, v in req.param_list if k not in SPLUNKD_ARGS]
        elif req.method == "POST":
            action = "edit" if name else "create"
            pairs = [(k, v) for k, v in req.form() if k != "output_mode"]
        elif req.method == "DELETE" and name:
            action, pairs = "remove", []
        else:
            raise SplunkdError(405, f"Method {req.method} not allowed")
        for key, value in pairs:
            data.setdefault(key, []).append(value)
        if action == "create":
            name = (data.pop("name", [""]) or [""])[0]
            if not name:
                raise SplunkdError(400, 'Argument "name" is required.')
        self.calls.append((endpoint, action, name))
        answer = self._workers[endpoint].call(
            {
                "script": str(self.scripts[endpoint]),
                "action": action,
                "name": name,
                "data": data,
                "session_key": splunkd.session_key,
                "app": app,
            }
        )
        if not answer.get("ok"):
            raise SplunkdError(
                500,
                f"Unexpected error \"{answer.get('class')}\" from python handler: \"{answer.get('text')}\". "
                "See splunkd.log/python.log for more details.",
            )
        base = f"/servicesNS/{owner}/{app}/{endpoint}"
        entries = [self._entry(base, app, owner, e) for e in answer.get("entries", [])]
        status = 201 if action == "create" else 200
        return splunkd.render(endpoint, base, entries, json_out, params if action == "list" else {}, status=status)

    @staticmethod
    def _entry(base: str, app: str, owner: str, item: dict[str, Any]) -> Entry:
        metadata = item.get("metadata") or {}
        content = dict(item.get("content") or {})
        content.setdefault("eai:appName", metadata.get("eai:appName", app))
        content.setdefault("eai:userName", metadata.get("eai:userName", owner))
        acl = metadata.get("eai:acl") or make_acl(app, owner=owner)
        acl = {k: (str(v) if isinstance(v, (int, bool)) and not isinstance(v, bool) else v) for k, v in acl.items()}
        return Entry(item["name"], f"{base}/{quote(item['name'], safe='')}", content, acl)

    def close(self) -> None:
        for worker in self._workers.values():
            worker.close()
        self._log.close()
