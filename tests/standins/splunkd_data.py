"""The splunkd stand-in's ``data/inputs/<scheme>`` and ``data/indexes`` endpoints.

Why this file exists: UCC's input REST handler stores inputs through splunkd's
``data/inputs/<scheme>`` (not ``configs/conf-inputs``), and the Inputs form's index
dropdown lists ``data/indexes``. This extension of :class:`~tests.standins.splunkd.
SplunkdStandin` keeps inputs as ``[<scheme>://<name>]`` stanzas of its ``inputs`` conf
(the package's ``default/inputs.conf`` ``[<scheme>]`` stanza gives the defaults), and,
as splunkd does for a scheme with ``use_external_validation``, runs the packaged input
with ``--validate-arguments`` before a create or an edit is stored. A refused
validation answers 400 with the script's ``<error><message>`` (splunkd's exact wording
around it is not modelled), or splunkd's "Validation for scheme=... failed" sentence when
the script gave none. ``disable``/``enable`` set ``disabled``; DELETE removes the stanza.
"""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional
from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

from ._server import Request, Response
from .splunkd import Entry, SplunkdError, SplunkdStandin, make_acl

INDEXES = ("main", "mde", "history", "summary")
INTERNAL_INDEXES = ("_internal", "_audit")
# Arguments splunkd keeps for itself: never passed to the script as parameters.
NOT_PARAMS = ("output_mode", "name")

Validator = Callable[[str, Mapping[str, str]], Optional[str]]


@dataclass
class ScriptValidator:
    """splunkd's external validation: ``python bin/<scheme>.py --validate-arguments``."""

    app_dir: Path
    scheme: str
    python: str
    env: Mapping[str, str]
    server_uri: str
    session_key: str
    checkpoint_dir: Path
    timeout: float = 30.0

    def __call__(self, name: str, params: Mapping[str, str]) -> str | None:
        items = "".join(f"<param name={quoteattr(k)}>{escape(v)}</param>" for k, v in params.items())
        stdin = (
            f"<items><server_host>standin-hf</server_host><server_uri>{escape(self.server_uri)}</server_uri>"
            f"<session_key>{escape(self.session_key)}</session_key>"
            f"<checkpoint_dir>{escape(str(self.checkpoint_dir))}</checkpoint_dir>"
            f"<item name={quoteattr(name)}>{items}</item></items>"
        )
        script = self.app_dir / "bin" / f"{self.scheme}.py"
        done = subprocess.run(
            [self.python, str(script), "--validate-arguments"],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=self.timeout,
            env=dict(self.env),
            cwd=str(self.app_dir / "bin"),
        )
        if done.returncode == 0:
            return None
        try:
            message = ET.fromstring(done.stdout.strip()).findtext("message")
        except ET.ParseError:
            message = None
        return message or (
            f"Validation for scheme={self.scheme} failed: The script returned with exit status {done.returncode}."
        )


class DataEndpoints:
    """``data/inputs/<scheme>`` for one scheme, and ``data/indexes``: a splunkd extension."""

    def __init__(self, scheme: str, validator: Validator | None = None) -> None:
        self.scheme = scheme
        self.validator = validator

    def classify(self, seg: list[str]) -> str | None:
        if seg[:3] == ["data", "inputs", self.scheme]:
            return "data-inputs"
        if seg[:2] == ["data", "indexes"]:
            return "indexes"
        return None

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
        if seg[:2] == ["data", "indexes"] and req.method == "GET":
            return self._indexes(splunkd, ns, params, json_out)
        if seg[:3] != ["data", "inputs", self.scheme]:
            return None
        owner, app = ns
        app = splunkd.app if app in ("-", "system") else app
        base = f"/servicesNS/{owner}/{app}/data/inputs/{self.scheme}"
        rest = seg[3:]
        inputs = self._inputs(splunkd, app)
        if req.method == "GET":
            if rest and rest[0] not in inputs:
                raise SplunkdError(404, f"Could not find object id={rest[0]}")
            names = [rest[0]] if rest else sorted(inputs)
            entries = [self._entry(splunkd, app, owner, base, n, inputs[n]) for n in names]
            return splunkd.render(self.scheme, base, entries, json_out, {} if rest else params)
        values = {k: v for k, v in form.items() if k not in NOT_PARAMS}
        if req.method == "POST" and not rest:
            name = form.get("name", "")
            if not name:
                raise SplunkdError(400, 'Argument "name" is required.')
            if name in inputs:
                raise SplunkdError(409, f"An object with name={name} already exists")
            self._validate(splunkd, app, name, values)
            splunkd.set_stanza("inputs", self._stanza(name), values, app=app)
            entry = self._entry(splunkd, app, owner, base, name, self._inputs(splunkd, app)[name])
            return splunkd.render(self.scheme, base, [entry], json_out, status=201)
        if not rest or rest[0] not in inputs:
            raise SplunkdError(404, f"Could not find object id={rest[0] if rest else ''}")
        name = rest[0]
        if req.method == "POST" and rest[1:] in (["disable"], ["enable"]):
            splunkd.set_stanza(
                "inputs", self._stanza(name), {"disabled": "1" if rest[1] == "disable" else "0"}, app=app
            )
        elif req.method == "POST" and len(rest) == 1:
            self._validate(splunkd, app, name, {**inputs[name], **values})
            splunkd.set_stanza("inputs", self._stanza(name), values, app=app)
        elif req.method == "DELETE" and len(rest) == 1:
            splunkd.delete_stanza("inputs", self._stanza(name), app=app)
            remaining = self._inputs(splunkd, app)
            entries = [self._entry(splunkd, app, owner, base, n, remaining[n]) for n in sorted(remaining)]
            return splunkd.render(self.scheme, base, entries, json_out)
        else:
            raise SplunkdError(405, f"Method {req.method} not allowed")
        entry = self._entry(splunkd, app, owner, base, name, self._inputs(splunkd, app)[name])
        return splunkd.render(self.scheme, base, [entry], json_out)

    def _stanza(self, name: str) -> str:
        return f"{self.scheme}://{name}"

    def _inputs(self, splunkd: SplunkdStandin, app: str) -> dict[str, dict[str, str]]:
        prefix = self._stanza("")
        return {k[len(prefix) :]: v for k, v in splunkd.stanzas("inputs", app).items() if k.startswith(prefix)}

    def _entry(
        self, splunkd: SplunkdStandin, app: str, owner: str, base: str, name: str, values: dict[str, str]
    ) -> Entry:
        content: dict[str, Any] = {"disabled": "0", "host": "standin-hf", "index": "default"}
        content.update(splunkd.stanzas("inputs", app).get(self.scheme, {}))  # the scheme's defaults
        content.update(values)
        content.update({"eai:appName": app, "eai:userName": owner})
        return Entry(name, f"{base}/{quote(name, safe='')}", content, make_acl(app, owner=owner))

    def _validate(self, splunkd: SplunkdStandin, app: str, name: str, params: dict[str, str]) -> None:
        if self.validator is None:
            return
        merged = {**splunkd.stanzas("inputs", app).get(self.scheme, {}), **params}
        message = self.validator(name, merged)
        if message:
            raise SplunkdError(400, message)

    @staticmethod
    def _indexes(splunkd: SplunkdStandin, ns: tuple[str, str], params: dict[str, str], json_out: bool) -> Response:
        base = "/servicesNS/nobody/system/data/indexes"
        entries = [
            Entry(
                name,
                f"{base}/{name}",
                {"disabled": "0", "isInternal": "1" if name.startswith("_") else "0", "datatype": "event"},
                make_acl("system", removable=False),
            )
            for name in (*INDEXES, *INTERNAL_INDEXES)
        ]
        return splunkd.render("indexes", base, entries, json_out, params)
