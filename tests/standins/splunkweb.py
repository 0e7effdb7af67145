"""A local stand-in for Splunk Web, enough to run an app's UCC pages in a real browser.

Why this file exists: UCC's configuration and inputs pages are a prebuilt bundle that
expects Splunk Web around it (FACTS.md §10). This server gives it exactly that, on
plain HTTP like Splunk Web's default port:

* ``/<locale>/app/<app>/<view>``: the view's template (``appserver/templates/base.html``
  for UCC pages, as ``default/data/ui/views/<view>.xml`` names it), setting the CSRF
  cookie ``splunkweb_csrf_token_<port>``; ``/`` redirects to the app's default view;
* ``/<locale>/config``: ``window.$C`` (``SPLUNKD_PATH``, ``LOCALE``, ``MRSPARKLE_*``,
  build numbers, ``USERNAME``); ``/static/@<build>/js/i18n.js`` and ``/i18ncatalog``:
  an identity translator;
* ``/<locale>/static/@<build>/app/<app>/<path>``: the file under ``appserver/static``;
* ``/<locale>/splunkd/__raw/<path>``: forwarded to splunkd with the session's key, after
  the CSRF check Splunk Web makes on writes (``X-Splunk-Form-Key`` must equal the
  cookie, else 401). splunkd answers, including the app's own REST handlers (see
  ``splunkd_handlers``): the same path a real browser request takes.

Anything else answers 404 and is recorded, as is every answer's body except static files,
so tests can prove a secret never came back.
"""

from __future__ import annotations

import http.client
import json
import mimetypes
import re
import secrets
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from ._server import HttpsServer, Request, Response
from .splunkd import SPLUNK_BUILD, SPLUNK_VERSION

LOCALE = "en-US"
BUILD_NUMBER = "1796135744"
IDENTITY_I18N = (
    b"window.gettext = function (s) { return s; };\n"
    b"window.ungettext = function (s, p, n) { return n === 1 ? s : p; };\n"
    b"window._ = window.gettext;\n"
)
HTML = "text/html; charset=utf-8"
JS = "application/javascript; charset=utf-8"


@dataclass
class WebRequest:
    method: str
    path: str
    status: int
    body: bytes  # what was answered (empty for static files)


class SplunkWebStandin:
    """Splunk Web for one installed app, in front of a splunkd (stand-in) on HTTPS."""

    def __init__(
        self,
        app_dir: Path,
        splunkd_port: int,
        session_key: str,
        ca_file: str,
        *,
        port: int = 0,
        username: str = "admin",
    ) -> None:
        self.app_dir = app_dir
        self.app = app_dir.name
        self._splunkd_port = splunkd_port
        self._session_key = session_key
        self._tls = ssl.create_default_context(cafile=ca_file)
        self._username = username
        self.csrf_token = secrets.token_hex(16)
        self._records: list[WebRequest] = []
        self._lock = threading.Lock()
        self._server = HttpsServer(self._handle, None, None, port=port)

    # -- lifecycle -----------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._server.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def page_url(self, view: str) -> str:
        return f"{self.url}/{LOCALE}/app/{self.app}/{view}"

    def start(self) -> SplunkWebStandin:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    @property
    def requests(self) -> list[WebRequest]:
        with self._lock:
            return list(self._records)

    # -- HTTP ----------------------------------------------------------------------
    def _handle(self, req: Request) -> Response:
        record_body = True
        try:
            resp, record_body = self._route(req)
        except Exception as error:  # a stand-in bug must show as a 500, not a hang
            resp = Response(500, f"splunkweb stand-in error: {error!r}".encode(), [("Content-Type", "text/plain")])
        with self._lock:
            self._records.append(WebRequest(req.method, req.path, resp.status, resp.body if record_body else b""))
        return resp

    def _route(self, req: Request) -> tuple[Response, bool]:
        path = req.path
        if path in ("/", f"/{LOCALE}", f"/{LOCALE}/", f"/{LOCALE}/app/{self.app}", f"/{LOCALE}/app/{self.app}/"):
            return _redirect(f"/{LOCALE}/app/{self.app}/{self._default_view()}"), True
        m = re.fullmatch(r"/(\w\w-\w\w)/(.*)", path)
        if not m:
            return _not_found(), True
        rest = m.group(2)
        if rest.startswith("splunkd/__raw/"):
            return self._forward(req, rest[len("splunkd/__raw") :]), True
        if rest == "config":
            return self._config(), True
        if rest == "i18ncatalog" or re.fullmatch(r"static/@[\w.]+/js/i18n\.js", rest):
            return Response(200, IDENTITY_I18N, [("Content-Type", JS)]), True
        static = re.fullmatch(rf"static/@[\w.]+/app/{re.escape(self.app)}/(.+)", rest)
        if static:
            return self._static(static.group(1)), False
        view = re.fullmatch(rf"app/{re.escape(self.app)}/(\w+)", rest)
        if view:
            return self._view(view.group(1)), True
        return _not_found(), True

    def _default_view(self) -> str:
        nav = (self.app_dir / "default" / "data" / "ui" / "nav" / "default.xml").read_text(encoding="utf-8")
        found = re.search(r'<view name="(\w+)" default="true"', nav)
        return found.group(1) if found else "configuration"

    def _view(self, name: str) -> Response:
        view = self.app_dir / "default" / "data" / "ui" / "views" / f"{name}.xml"
        if not view.is_file():
            return _not_found()
        template = re.search(r'template="[^":]+:/(templates/[\w./-]+)"', view.read_text(encoding="utf-8"))
        if not template:
            return _not_found()
        body = (self.app_dir / "appserver" / template.group(1)).read_bytes()
        cookie = f"splunkweb_csrf_token_{self.port}={self.csrf_token}; Path=/; SameSite=Strict"
        return Response(200, body, [("Content-Type", HTML), ("Set-Cookie", cookie), ("Cache-Control", "no-store")])

    def _config(self) -> Response:
        config = {
            "SPLUNKD_PATH": f"/{LOCALE}/splunkd/__raw",
            "LOCALE": LOCALE,
            "MRSPARKLE_ROOT_PATH": "",
            "MRSPARKLE_PORT_NUMBER": str(self.port),
            "BUILD_NUMBER": int(BUILD_NUMBER),
            "BUILD_PUSH_NUMBER": 0,
            "APP_BUILD": 0,
            "USERNAME": self._username,
            "FORM_KEY": self.csrf_token,
            "VERSION_LABEL": SPLUNK_VERSION,
            "SPLUNK_BUILD": SPLUNK_BUILD,
            "SERVER_ZONEINFO": "",
            "SPLUNK_UI_THEME": "enterprise",
        }
        body = f"window.$C = {json.dumps(config)};\n".encode()
        return Response(200, body, [("Content-Type", JS)])

    def _static(self, relative: str) -> Response:
        root = (self.app_dir / "appserver" / "static").resolve()
        target = (root / relative).resolve()
        if root not in target.parents or not target.is_file():
            return _not_found()
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if kind in ("application/javascript", "text/javascript"):
            kind = JS
        return Response(200, target.read_bytes(), [("Content-Type", kind)])

    def _forward(self, req: Request, splunkd_path: str) -> Response:
        if req.method not in ("GET", "HEAD") and not self._csrf_ok(req):
            refusal = {"messages": [{"type": "ERROR", "text": "Splunk Web: missing or wrong X-Splunk-Form-Key"}]}
            return Response(401, json.dumps(refusal).encode(), [("Content-Type", "application/json")])
        target = quote(splunkd_path, safe="/%:@-._~!$&'()*+,;=") + (f"?{req.query}" if req.query else "")
        headers = {"Authorization": f"Splunk {self._session_key}", "Connection": "close"}
        if "content-type" in req.headers:
            headers["Content-Type"] = req.headers["content-type"]
        connection = http.client.HTTPSConnection("127.0.0.1", self._splunkd_port, context=self._tls, timeout=120)
        try:
            connection.request(req.method, target, body=req.body or None, headers=headers)
            answer = connection.getresponse()
            body = answer.read()
            kind = answer.getheader("Content-Type") or "application/json"
            return Response(answer.status, body, [("Content-Type", kind)])
        finally:
            connection.close()

    def _csrf_ok(self, req: Request) -> bool:
        cookies = dict(part.strip().split("=", 1) for part in req.headers.get("cookie", "").split(";") if "=" in part)
        sent = req.headers.get("x-splunk-form-key", "")
        return bool(sent) and sent == cookies.get(f"splunkweb_csrf_token_{self.port}") == self.csrf_token


def _redirect(location: str) -> Response:
    return Response(303, b"", [("Location", location)])


def _not_found() -> Response:
    return Response(404, b"Not Found", [("Content-Type", "text/plain")])


def view_names(app_dir: Path) -> list[str]:
    """The app's views that use a template (UCC's pages)."""
    views = app_dir / "default" / "data" / "ui" / "views"
    return sorted(p.stem for p in views.glob("*.xml") if "template=" in p.read_text(encoding="utf-8"))


__all__ = ["LOCALE", "SplunkWebStandin", "WebRequest", "view_names"]
