"""Run a packaged alert action the way splunkd's sendalert does, and read what it wrote.

Why this file exists: an alert action is only proven when UCC's generated `bin/<action>.py`
runs as splunkd runs it: `python bin/<action>.py --execute` with a JSON payload on stdin
(`session_key`, `server_uri`, `results_file` (a gzip CSV of the triggering results),
`configuration` (the `param.*` values), `search_name`, `sid`, `owner`, `app`), with
`SPLUNK_HOME` set, and Splunk's own `splunk` Python package importable (here the stand-in in
`splunk_python/`). This module writes the results file into a dispatch directory, starts the
script against the stand-ins, and afterwards reads the stash files it wrote under
`$SPLUNK_HOME/var/spool/splunk` (what splunkd would index) and its `_modalert.log`.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .launcher import HOSTMAP_DIR, StandinStack, child_env
from .splunkd import APP_ID

SPLUNK_PYTHON = Path(__file__).resolve().parent / "splunk_python"
BREAKER = "==##~~##~~  1E8N3D4E6V5E7N2T9 ~~##~~##=="


@dataclass
class StashEvent:
    index: str
    source: str
    sourcetype: str
    orig_action_name: str
    orig_sid: str
    orig_rid: str
    raw: str

    @property
    def json(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.raw)
        return value


@dataclass
class ActionRun:
    action: str
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    events: list[StashEvent] = field(default_factory=list)
    log: str = ""
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def audit(self) -> list[dict[str, Any]]:
        return [event.json for event in self.events if event.sourcetype == "ms:defender:atp:action"]


def results_csv_gz(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """Splunk's results file: a gzip CSV; a list value becomes `<field>` + `__mv_<field>` ($a$;$b$)."""
    columns: list[str] = []
    flat_rows: list[dict[str, str]] = []
    for row in rows:
        flat: dict[str, str] = {}
        for key, value in row.items():
            if isinstance(value, (list, tuple)):
                flat[key] = "\n".join(str(v) for v in value)
                flat[f"__mv_{key}"] = ";".join("$" + str(v).replace("$", "$$") + "$" for v in value)
            else:
                flat[key] = "" if value is None else str(value)
        for key in flat:
            if key not in columns:
                columns.append(key)
        flat_rows.append(flat)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(flat_rows)
    return gzip.compress(text.getvalue().encode("utf-8"))


def read_stash(directory: Path) -> list[StashEvent]:
    events: list[StashEvent] = []
    for path in sorted(directory.glob("*.stash_*")):
        text = path.read_text(encoding="utf-8")
        header, _, body = text.partition("\n")
        head = dict(re.findall(r'(\w+)="([^"]*)"', header))
        for chunk in body.split(BREAKER + "\n"):
            chunk = chunk.strip("\n")
            if not chunk:
                continue
            idline, _, raw = chunk.partition("\n")
            cam = dict(re.findall(r'(\w+)="([^"]*)"', idline))
            events.append(
                StashEvent(
                    head.get("index", ""),
                    head.get("source", ""),
                    cam.get("sourcetype", ""),
                    cam.get("orig_action_name", ""),
                    cam.get("orig_sid", ""),
                    cam.get("orig_rid", ""),
                    raw,
                )
            )
        path.unlink()  # splunkd's batch input deletes what it indexed
    return events


def run_action(
    stack: StandinStack,
    app_dir: Path,
    action: str,
    rows: Sequence[Mapping[str, Any]],
    configuration: Mapping[str, Any],
    *,
    splunk_home: Path,
    python: str = sys.executable,
    session_key: str | None = None,
    owner: str = "admin",
    search_name: str = "Defender - High alerts",
    sid: str | None = None,
    timeout: float = 300.0,
    defaults: bool = True,
) -> ActionRun:
    """`| sendalert <action>` with `rows` as the triggering results; `configuration` on top of the
    action's alert_actions.conf defaults (splunkd merges them the same way)."""
    sid = sid or f"scheduler__{owner}__search__RMD5{int(time.time() * 1000)}_at_{int(time.time())}_1"
    dispatch = splunk_home / "var" / "run" / "splunk" / "dispatch" / sid
    dispatch.mkdir(parents=True, exist_ok=True)
    results = dispatch / "results.csv.gz"
    results.write_bytes(results_csv_gz(rows))
    spool = splunk_home / "var" / "spool" / "splunk"
    spool.mkdir(parents=True, exist_ok=True)
    config = dict(action_defaults(app_dir, action) if defaults else {})
    config.update({k: str(v) for k, v in configuration.items()})
    payload = {
        "app": APP_ID,
        "owner": owner,
        "results_file": str(results),
        "results_link": f"http://standin-sh:8000/app/search/search?sid={sid}",
        "search_uri": f"/servicesNS/{owner}/search/saved/searches/{search_name}",
        "search_name": search_name,
        "server_host": "standin-sh",
        "server_uri": stack.server_uri,
        "session_key": session_key or stack.session_key,
        "sid": sid,
        "configuration": config,
    }
    env = child_env(
        hostmap=stack.hostmap,
        ca_path=str(stack.tls.ca),
        splunk_home=str(splunk_home),
        env_extra={
            "PYTHONPATH": os.pathsep.join([str(HOSTMAP_DIR), str(SPLUNK_PYTHON)]),
            "MDE_STANDIN_SPLUNKD_URI": stack.server_uri,
        },
    )
    started = time.monotonic()
    done = subprocess.run(
        [python, str(app_dir / "bin" / f"{action}.py"), "--execute"],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        env=env,
        cwd=str(dispatch),
        timeout=timeout,
    )
    seconds = time.monotonic() - started
    log_path = splunk_home / "var" / "log" / "splunk" / f"{action}_modalert.log"
    log = log_path.read_text(encoding="utf-8") if log_path.exists() else ""
    return ActionRun(action, done.returncode, done.stdout, done.stderr, seconds, read_stash(spool), log, payload)


def action_defaults(app_dir: Path, action: str) -> dict[str, str]:
    """The `param.*` defaults of the action in the package's alert_actions.conf."""
    from .splunkd import parse_conf_text

    conf = parse_conf_text((app_dir / "default" / "alert_actions.conf").read_text(encoding="utf-8"))
    return {k[len("param.") :]: v for k, v in conf.get(action, {}).items() if k.startswith("param.")}
