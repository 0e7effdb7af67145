"""The splunkd stand-in's ``search/jobs``: only the one search UCC's page footer runs.

Why this file exists: every UCC page's footer shows the app's build time, found with
``| rest services/apps/local/<app> splunk_server=local | fields build`` through
@splunk/search-job (create a job, poll its state, read its results). No search
language is modelled: that search is answered from the app's ``default/app.conf``
(``[install] build``) and any other search is refused with 400, so a page that starts
depending on real searches fails its test instead of passing for the wrong reason.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from pathlib import Path

from ._server import Request, Response
from .splunkd import SplunkdError, SplunkdStandin, parse_conf_text

JSON_CT = "application/json; charset=UTF-8"


class FooterSearch:
    """A splunkd extension: ``search/jobs`` (and ``search/v2/jobs``) for the footer's search."""

    def __init__(self, app_dir: Path) -> None:
        self.app = app_dir.name
        conf = parse_conf_text((app_dir / "default" / "app.conf").read_text(encoding="utf-8"))
        self.build = conf.get("install", {}).get("build", "")
        self._jobs: dict[str, list[dict[str, str]]] = {}
        self._lock = threading.Lock()
        self.refused: list[str] = []  # searches a page asked for that the stand-in does not run

    def classify(self, seg: list[str]) -> str | None:
        return "search" if seg[:2] == ["search", "jobs"] or seg[:3] == ["search", "v2", "jobs"] else None

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
        if self.classify(seg) is None:
            return None
        rest = seg[3:] if seg[1] == "v2" else seg[2:]
        if req.method == "POST" and not rest:
            return self._create(form.get("search", ""))
        if req.method == "GET" and not rest and params.get("id"):
            return self._status([params["id"]])
        if rest and rest[0] not in self._jobs:
            raise SplunkdError(404, f"Unknown sid: {rest[0]}")
        if req.method == "GET" and len(rest) == 1:
            return self._status(rest[:1])
        if req.method == "GET" and len(rest) == 2 and rest[1] in ("results", "results_preview"):
            body = {"preview": False, "init_offset": 0, "messages": [], "fields": [{"name": "build"}]}
            body["results"] = self._jobs[rest[0]]
            return Response(200, json.dumps(body).encode(), [("Content-Type", JSON_CT)])
        if req.method == "POST" and rest[1:] == ["control"]:
            return Response(200, json.dumps({"messages": []}).encode(), [("Content-Type", JSON_CT)])
        if req.method == "GET" and not rest:
            return Response(200, json.dumps({"entry": []}).encode(), [("Content-Type", JSON_CT)])
        raise SplunkdError(405, f"Method {req.method} not allowed")

    def _create(self, search: str) -> Response:
        wanted = rf"\|\s*rest\s+/?services/apps/local/{re.escape(self.app)}\b[^|]*\|\s*fields\s+build\s*"
        if not re.fullmatch(wanted, search.strip()):
            self.refused.append(search)
            raise SplunkdError(400, "The search stand-in runs only the page footer's build search.")
        sid = f"standin_{secrets.token_hex(6)}"
        with self._lock:
            self._jobs[sid] = [{"build": self.build}]
        return Response(201, json.dumps({"sid": sid}).encode(), [("Content-Type", JSON_CT)])

    def _status(self, sids: list[str]) -> Response:
        entries = []
        for sid in sids:
            if sid not in self._jobs:
                continue
            content = {
                "sid": sid,
                "dispatchState": "DONE",
                "isDone": True,
                "isFailed": False,
                "doneProgress": 1,
                "resultCount": len(self._jobs[sid]),
                "messages": [],
            }
            entries.append({"name": sid, "id": sid, "content": content})
        return Response(
            200, json.dumps({"entry": entries, "paging": {"total": len(entries)}}).encode(), [("Content-Type", JSON_CT)]
        )
