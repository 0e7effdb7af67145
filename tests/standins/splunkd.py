"""A local stand-in for the parts of splunkd's REST API that a modular input uses.

Why this file exists: no Splunk Enterprise can be installed here, yet the packaged
input talks to splunkd through solnlib and splunklib: it reads its account and
settings stanzas (``configs/conf-*``, with encrypted fields in ``storage/passwords``),
keeps checkpoints in the KV store (``storage/collections``), and may ask
``server/info``. This stand-in answers those endpoints in the formats splunklib
asks for: Atom XML by default (splunklib's ``Collection``/``Entity``), JSON when
``output_mode=json`` (and always for KV store documents), errors as
``<response><messages><msg type=...>``. It also reproduces the awkward parts:

* requests must carry ``Authorization: Splunk <session_key>``; otherwise 401
  "call not properly authenticated";
* a collection listing without ``count`` returns only 30 entries, as splunkd does;
* ``properties/<file>`` answers 404 for a conf file that no app has, which solnlib's
  ``ConfManager.get_conf`` turns into "Config file ... does not exist";
* ``storage/passwords`` entries are named ``realm:username:`` (colons in either part
  escaped as ``\\:``), solnlib stores values longer than 255 characters as numbered
  chunks plus an end-mark chunk, and UCC keeps the JSON of an account's encrypted
  fields under realm ``__REST_CREDENTIAL__#<app>#configs/conf-<file>`` while the conf
  stanza holds ``******``;
* the KV store can be switched "down" (disabled, initializing, failed): every
  ``storage/collections`` call then answers 503 with splunkd's message, and
  ``server/info`` reports the matching ``kvStoreStatus``;
* ``batch_save`` refuses more than 1,000 documents (limits.conf
  ``max_documents_per_batch_save``);
* a collection that is gone answers ``404 Collection: <name> does not exist`` on every
  ``storage/collections/data/<name>`` path, unlike a missing key (``Could not find
  object.``); tests can delete a collection and queue faults on single calls.

Every request is recorded (method, path, query, status, endpoint class), and unknown
paths answer 404 and are listed in :attr:`SplunkdStandin.unknown_requests` so the lead
sees anything the add-on asked for that the stand-in does not model.

Seeding goes through solnlib's own ``ConfManager`` against the running stand-in (so the
stored shape is solnlib's), with a direct fallback that writes the same shape.
Seeding traffic uses a separate key and is left out of the recorded requests.

Users, roles and capabilities (``authentication/current-context``, the
``list_storage_passwords`` rule) and UCC's settings handler, which an alert action reads,
are in ``splunkd_users.py``.

Limits (see also the report): search filters are a simple substring match; no ACL
enforcement on single objects, no ``[default]`` stanza inheritance, no ``local.meta``.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, unquote
from xml.sax.saxutils import escape, quoteattr

from ._server import HttpsServer, Request, Response
from .splunkd_users import UsersStandin

APP_ID = "TA-defender-endpoint-alerts"
REST_ROOT = "ta_defender_endpoint_alerts"
ACCOUNT_CONF = f"{REST_ROOT}_account"
SETTINGS_CONF = f"{REST_ROOT}_settings"
ACCOUNT_ENCRYPTED = ("client_secret", "certificate_private_key")
SETTINGS_ENCRYPTED = ("proxy_password",)
SPLUNK_VERSION = "9.4.1"
SPLUNK_BUILD = "e3bdab203ac8"
ENCRYPTED_PLACEHOLDER = "******"  # what solnlib 8 / splunktaucclib 8 write into the conf
KV_STATES = {
    "ready": (None, "ready"),
    "disabled": ("KV Store is disabled.", "disabled"),
    "initializing": ("KV Store is initializing. Please try again later.", "starting"),
    "failed": ("KV Store initialization failed. Please contact your system administrator.", "failed"),
}
MAX_BATCH_SAVE = 1000
DEFAULT_COUNT = 30

ATOM_CT = "text/xml; charset=utf-8"
JSON_CT = "application/json; charset=UTF-8"


def credential_realm(conf_file: str, app: str = APP_ID) -> str:
    """The realm UCC (splunktaucclib) uses for a conf file's encrypted fields."""
    return f"__REST_CREDENTIAL__#{app}#configs/conf-{conf_file}"


def password_name(realm: str | None, username: str) -> str:
    def esc(s: str) -> str:
        return s.replace(":", "\\:")

    return f"{esc(realm or '')}:{esc(username)}:"


def _now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")


@dataclass
class SplunkdRequest:
    seq: int
    at: float
    method: str
    path: str
    query: str
    endpoint: str  # server-info | configs | properties | passwords | kv-config | kv-data | apps | unknown
    status: int = 0
    output_mode: str | None = None
    seeding: bool = False
    authenticated: bool = True
    user: str | None = None
    body_bytes_in: int = 0


@dataclass
class _Password:
    realm: str
    username: str
    clear_password: str
    app: str
    owner: str = "nobody"


@dataclass
class _Collection:
    name: str
    app: str
    fields: dict[str, str] = field(default_factory=dict)
    docs: dict[str, dict[str, Any]] = field(default_factory=dict)


class _HttpError(Exception):
    def __init__(self, status: int, message: str, msg_type: str = "ERROR") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.msg_type = msg_type


def parse_conf_text(text: str) -> dict[str, dict[str, str]]:
    """Parse a .conf file the way Splunk reads one (comments, ``\\`` line continuations)."""
    out: dict[str, dict[str, str]] = {}
    stanza = "default"
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        while line.endswith("\\") and i + 1 < len(lines):
            i += 1
            line = line[:-1] + "\n" + lines[i]
        i += 1
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if s.startswith("[") and s.endswith("]"):
            stanza = s[1:-1]
            out.setdefault(stanza, {})
            continue
        if "=" in s:
            k, v = s.split("=", 1)
            out.setdefault(stanza, {})[k.strip()] = v.strip()
    return out


class SplunkdStandin(UsersStandin):
    """splunkd REST on 127.0.0.1 over TLS, for one app."""

    def __init__(
        self,
        certfile: str,
        keyfile: str,
        *,
        session_key: str | None = None,
        app: str = APP_ID,
        port: int = 0,
        app_default_dir: str | Path | None = None,
        server_name: str = "standin-hf",
        kvstore_state: str = "ready",
    ) -> None:
        self.session_key = session_key or secrets.token_hex(24)
        self._seed_key = "seed-" + secrets.token_hex(16)
        self.app = app
        self.server_name = server_name
        self.guid = "5E2F6B0A-1C3D-4E5F-8A9B-0C1D2E3F4A5B"
        self._lock = threading.RLock()
        # conf layers: default (read-only, from the package) and local (written via REST)
        self._default: dict[tuple[str, str], dict[str, dict[str, str]]] = {}
        self._local: dict[tuple[str, str], dict[str, dict[str, str]]] = {}
        self._conf_files: set[tuple[str, str]] = set()  # (app, file) that exist
        self._passwords: dict[tuple[str, str], _Password] = {}  # (app, name)
        self._collections: dict[tuple[str, str], _Collection] = {}
        self.kvstore_state = "ready"
        self.set_kvstore_state(kvstore_state)
        self._records: list[SplunkdRequest] = []
        self._rec_lock = threading.Lock()
        self._faults: list[list[Any]] = []  # [endpoint class, method, status, message, calls left, to let by]
        self.extensions: list[Extension] = []  # more endpoints (data/inputs, an app's REST handlers): see Extension
        if app_default_dir is not None:
            self.load_default_dir(app_default_dir)
        self._init_users()  # the session key above is admin's; add_user() makes others
        self._server = HttpsServer(self._handle, certfile, keyfile, port=port)

    # -- lifecycle -------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._server.port

    @property
    def server_uri(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> SplunkdStandin:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> SplunkdStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- switches --------------------------------------------------------------------
    def set_kvstore_state(self, state: str) -> None:
        """ready | disabled | initializing | failed."""
        if state not in KV_STATES:
            raise ValueError(f"kvstore state must be one of {sorted(KV_STATES)}")
        self.kvstore_state = state

    def queue_fault(
        self, endpoint: str, method: str, status: int, message: str, count: int = 1, after: int = 0
    ) -> None:
        """After `after` more such calls succeed, the next `count` `method` calls to an endpoint
        class (``kv-data``, ``kv-config``, ...) answer `status` in splunkd's error shape: a store
        that answers some calls and fails others (a KV store timing out on writes, a role that
        may not create collections)."""
        with self._lock:
            self._faults.append([endpoint, method.upper(), status, message, count, after])

    def delete_collection(self, name: str, app: str | None = None) -> None:
        """What an admin's `storage/collections/config` DELETE, or a KV store restored from an
        older backup, leaves: the collection and all its documents gone."""
        with self._lock:
            del self._collections[(app or self.app, name)]

    def _injected_fault(self, endpoint: str, method: str) -> _HttpError | None:
        with self._lock:
            for fault in self._faults:
                if fault[0] == endpoint and fault[1] == method and fault[4] > 0:
                    if fault[5] > 0:
                        fault[5] -= 1
                        return None
                    fault[4] -= 1
                    return _HttpError(fault[2], fault[3])
        return None

    # -- direct inspection / seeding -------------------------------------------------------
    def load_default_dir(self, directory: str | Path, app: str | None = None) -> None:
        """Read ``default/*.conf`` of a package as the read-only default layer."""
        a = app or self.app
        for p in sorted(Path(directory).glob("*.conf")):
            with self._lock:
                self._default[(a, p.stem)] = parse_conf_text(p.read_text(encoding="utf-8", errors="replace"))
                self._conf_files.add((a, p.stem))
        # splunkd creates the KV store collections an app declares in collections.conf when it loads the app.
        for name, settings in self._default.get((a, "collections"), {}).items():
            if name != "default":
                fields = {k[6:]: v for k, v in settings.items() if k.startswith("field.")}
                with self._lock:
                    self._collections.setdefault((a, name), _Collection(name, a, fields))

    def create_conf_file(self, name: str, app: str | None = None) -> None:
        with self._lock:
            self._conf_files.add((app or self.app, name))

    def set_stanza(self, conf: str, stanza: str, values: dict[str, Any], app: str | None = None) -> None:
        """Write a stanza directly (no encryption): for raw states solnlib would not write."""
        a = app or self.app
        with self._lock:
            self._conf_files.add((a, conf))
            self._local.setdefault((a, conf), {}).setdefault(stanza, {}).update({k: _s(v) for k, v in values.items()})

    def stanza(self, conf: str, stanza: str, app: str | None = None) -> dict[str, str] | None:
        with self._lock:
            return self._merged(app or self.app, conf).get(stanza)

    def stanzas(self, conf: str, app: str | None = None) -> dict[str, dict[str, str]]:
        """Every stanza of a conf file, default and local layers merged."""
        with self._lock:
            return {k: dict(v) for k, v in self._merged(app or self.app, conf).items()}

    def delete_stanza(self, conf: str, stanza: str, app: str | None = None) -> bool:
        """Remove a stanza written through REST (the local layer); False if there is none."""
        with self._lock:
            return self._local.get((app or self.app, conf), {}).pop(stanza, None) is not None

    def set_password(self, realm: str | None, username: str, clear: str, app: str | None = None) -> None:
        a = app or self.app
        with self._lock:
            self._passwords[(a, password_name(realm, username))] = _Password(realm or "", username, clear, a)

    def passwords(self, app: str | None = None) -> dict[str, str]:
        """``{"realm:user:": clear_password}``."""
        a = app or self.app
        with self._lock:
            return {n: p.clear_password for (pa, n), p in self._passwords.items() if pa == a}

    def kv_documents(self, collection: str, app: str | None = None) -> dict[str, dict[str, Any]]:
        with self._lock:
            c = self._collections.get((app or self.app, collection))
            return {} if c is None else json.loads(json.dumps(c.docs))

    def seed_account(
        self,
        name: str,
        tenant_id: str,
        client_id: str,
        cloud: str = "commercial",
        auth_type: str = "client_secret",
        *,
        client_secret: str | None = None,
        private_key: str | None = None,
        thumbprint: str | None = None,
        method: str = "solnlib",
        **extra: Any,
    ) -> None:
        """Store an account stanza as UCC's REST handler would (encrypted fields in passwords)."""
        values: dict[str, Any] = {
            "tenant_id": tenant_id,
            "client_id": client_id,
            "cloud": cloud,
            "auth_type": auth_type,
        }
        if client_secret is not None:
            values["client_secret"] = client_secret
        if private_key is not None:
            values["certificate_private_key"] = private_key
        if thumbprint is not None:
            values["certificate_thumbprint"] = thumbprint
        values.update(extra)
        self.seed_stanza(ACCOUNT_CONF, name, values, encrypt_keys=ACCOUNT_ENCRYPTED, method=method)

    def seed_settings(
        self,
        *,
        loglevel: str | None = "INFO",
        ca_bundle_path: str | None = None,
        proxy: dict[str, Any] | None = None,
        method: str = "solnlib",
    ) -> None:
        """Settings stanzas: ``logging`` (loglevel), ``tls`` (ca_bundle_path), ``proxy`` (proxy_* keys)."""
        if loglevel is not None:
            self.seed_stanza(SETTINGS_CONF, "logging", {"loglevel": loglevel}, method=method)
        if ca_bundle_path is not None:
            self.seed_stanza(SETTINGS_CONF, "tls", {"ca_bundle_path": ca_bundle_path}, method=method)
        if proxy is not None:
            self.seed_stanza(SETTINGS_CONF, "proxy", dict(proxy), encrypt_keys=SETTINGS_ENCRYPTED, method=method)
        if loglevel is None and ca_bundle_path is None and proxy is None:
            self.create_conf_file(SETTINGS_CONF)

    def seed_stanza(
        self,
        conf: str,
        stanza: str,
        values: dict[str, Any],
        *,
        encrypt_keys: Iterable[str] = (),
        method: str = "solnlib",
    ) -> None:
        keys = [k for k in encrypt_keys if values.get(k)]
        if method == "solnlib":
            self._seed_with_solnlib(conf, stanza, values, keys)
        elif method == "direct":
            self._seed_direct(conf, stanza, values, keys)
        else:
            raise ValueError("method must be 'solnlib' or 'direct'")

    def _seed_with_solnlib(self, conf: str, stanza: str, values: dict[str, Any], keys: list[str]) -> None:
        from solnlib import conf_manager  # imported late: only the seeding needs it

        cfm = conf_manager.ConfManager(
            self._seed_key,
            self.app,
            realm=credential_realm(conf, self.app),
            scheme="https",
            host="127.0.0.1",
            port=self.port,
        )
        with self._lock:
            exists = (self.app, conf) in self._conf_files
        # get_conf on a missing file logs a WARNING with a traceback (solnlib's retry
        # decorator); ask create_conf directly instead when the file is not there yet.
        cf = cfm.get_conf(conf) if exists else cfm.create_conf(conf)
        cf.update(stanza, {k: _s(v) for k, v in values.items()}, keys or None)

    def _seed_direct(self, conf: str, stanza: str, values: dict[str, Any], keys: list[str]) -> None:
        # Same shape solnlib writes: JSON of the secret fields, split into 255-char chunks
        # "user``splunk_cred_sep``N" and closed by an end-mark chunk.
        stored = {k: _s(v) for k, v in values.items()}
        if keys:
            secret_json = json.dumps({k: stored[k] for k in keys})
            for k in keys:
                stored[k] = ENCRYPTED_PLACEHOLDER
            sep = "``splunk_cred_sep``"
            end = sep + sep.join("SPLUNK") + sep
            chunks = [secret_json[i : i + 255] for i in range(0, len(secret_json), 255)] + [end]
            for idx, chunk in enumerate(chunks, start=1):
                self.set_password(credential_realm(conf, self.app), f"{stanza}{sep}{idx}", chunk)
        self.set_stanza(conf, stanza, stored)

    # -- recording -------------------------------------------------------------------
    @property
    def requests(self) -> list[SplunkdRequest]:
        """Recorded requests, without the stand-in's own seeding traffic."""
        with self._rec_lock:
            return [r for r in self._records if not r.seeding]

    @property
    def unknown_requests(self) -> list[SplunkdRequest]:
        return [r for r in self.requests if r.endpoint == "unknown"]

    def count(self, endpoint: str | None = None, **match: Any) -> int:
        return sum(
            1
            for r in self.requests
            if (endpoint is None or r.endpoint == endpoint) and all(getattr(r, k) == v for k, v in match.items())
        )

    def clear_requests(self) -> None:
        with self._rec_lock:
            self._records.clear()

    # -- HTTP ------------------------------------------------------------------------
    def _handle(self, req: Request) -> Response:
        rec = SplunkdRequest(0, time.time(), req.method, req.path, req.query, "unknown", body_bytes_in=len(req.body))
        params = dict(req.param_list)
        form = dict(req.form()) if req.method == "POST" and _is_form(req) else {}
        rec.output_mode = params.get("output_mode") or form.get("output_mode")
        json_out = rec.output_mode == "json"
        auth = req.headers.get("authorization", "")
        key = auth.split(" ", 1)[1].strip() if " " in auth else ""
        rec.seeding = key == self._seed_key
        try:
            ns, rest = self._namespace(req.path)
            rec.endpoint = self._classify(rest)
            user = self.user_for(key)
            if (user is None and not rec.seeding) or auth.split(" ", 1)[0] not in ("Splunk", "Bearer"):
                rec.authenticated = False
                raise _HttpError(401, "call not properly authenticated", "WARN")
            fault = None if rec.seeding else self._injected_fault(rec.endpoint, req.method)
            if fault is not None:
                raise fault
            if user is not None:
                rec.user = user.name
                self._check_capabilities(rec.endpoint, params, user)
            if rec.endpoint in ("auth", "ucc-settings") and user is not None:
                resp = self._user_routes(req, ns, rest, params, user, json_out)
            else:
                resp = self._route(req, ns, rest, params, form, json_out)
        except _HttpError as e:
            resp = _error(e.status, e.message, json_out or rec.endpoint == "kv-data", e.msg_type)
        except Exception as e:  # a stand-in bug must surface as a 500
            resp = _error(500, f"stand-in error: {e!r}", json_out)
        rec.status = resp.status
        with self._rec_lock:
            rec.seq = len(self._records) + 1
            self._records.append(rec)
        return resp

    def _check_capabilities(self, endpoint: str, params: dict[str, str], user: Any) -> None:
        reads_secrets = endpoint == "passwords" or (endpoint == "ucc-settings" and params.get("--cred--") == "1")
        if reads_secrets and "list_storage_passwords" not in user.capabilities:
            raise _HttpError(
                403,
                f"You (user={user.name}) do not have permission to perform this operation "
                "(requires capability: list_storage_passwords).",
            )

    def _user_routes(
        self, req: Request, ns: tuple[str, str], rest: list[str], params: dict[str, str], user: Any, json_out: bool
    ) -> Response:
        seg = [unquote(s) for s in rest if s]
        if seg == ["authentication", "current-context"] and req.method == "GET":
            path = "/services/authentication/current-context"
            ent = _Entry("context", path + "/context", self.current_context(user), _acl("system", sharing="system"))
            return self._render("current-context", path, [ent], json_out)
        if len(seg) == 2 and seg[0] == SETTINGS_CONF and req.method == "GET":
            owner, app = ns
            with self._lock:
                stanza = self._merged(self.app, SETTINGS_CONF).get(seg[1])
                if stanza is None:
                    raise _HttpError(404, f"Could not find object id={seg[1]}")
                content: dict[str, Any] = {k: v for k, v in stanza.items()}
                if params.get("--cred--") == "1" and ENCRYPTED_PLACEHOLDER in content.values():
                    realm = credential_realm(SETTINGS_CONF, self.app)
                    content.update(self.decrypted_fields(realm, seg[1], self._passwords))
            content.setdefault("disabled", "0")
            path = f"/servicesNS/{owner}/{app}/{SETTINGS_CONF}"
            ent = _Entry(seg[1], f"{path}/{quote(seg[1], safe='')}", content, _acl(self.app))
            return self._render(SETTINGS_CONF, path, [ent], json_out)
        raise _HttpError(404, "Not Found")

    @staticmethod
    def _namespace(path: str) -> tuple[tuple[str, str], list[str]]:
        raw = [p for p in path.split("/")]
        if len(raw) >= 4 and raw[1] == "servicesNS":
            return (unquote(raw[2]), unquote(raw[3])), raw[4:]
        if len(raw) >= 2 and raw[1] == "services":
            return ("nobody", "system"), raw[2:]
        raise _HttpError(404, "Not Found")

    def _route(
        self,
        req: Request,
        ns: tuple[str, str],
        rest: list[str],
        params: dict[str, str],
        form: dict[str, str],
        json_out: bool,
    ) -> Response:
        seg = [unquote(s) for s in rest]
        while seg and seg[-1] == "":
            seg.pop()
        m = req.method
        if seg[:2] == ["server", "info"]:
            return self._server_info(json_out)
        if seg[:2] == ["apps", "local"] and len(seg) == 3 and m == "GET":
            return self._app_info(seg[2], json_out)
        if seg and seg[0].startswith("configs") and len(seg) >= 2 and seg[1].startswith("conf-"):
            return self._configs(req, ns, seg[1][5:], seg[2:], params, form, json_out)
        if seg and seg[0] == "properties":
            return self._properties(req, ns, seg[1:], params, form, json_out)
        if seg[:2] == ["storage", "passwords"]:
            # the name may contain "/" (realm "...#configs/conf-..."), so re-join the raw rest
            raw_name = "/".join(rest[2:]).rstrip("/")
            return self._storage_passwords(req, ns, unquote(raw_name), params, form, json_out)
        if seg[:3] == ["storage", "collections", "config"]:
            self._kv_check()
            return self._kv_config(req, ns, seg[3:], params, form, json_out)
        if seg[:3] == ["storage", "collections", "data"] and len(seg) >= 4:
            self._kv_check()
            return self._kv_data(req, ns, seg[3], seg[4:], params)
        for extension in self.extensions:
            answer = extension.handle(self, req, ns, seg, params, form, json_out)
            if answer is not None:
                return answer
        raise _HttpError(404, "Not Found")

    def _classify(self, rest: list[str]) -> str:
        seg = [unquote(s) for s in rest if s]
        for extension in self.extensions:
            name = extension.classify(seg)
            if name:
                return name
        return _classify(rest)

    def render(
        self,
        title: str,
        path: str,
        entries: list[Entry],
        json_out: bool,
        params: dict[str, str] | None = None,
        *,
        status: int = 200,
    ) -> Response:
        """A feed of *entries* as splunkd renders one (JSON or Atom; ``search``, ``count``
        and ``offset`` applied), for extensions."""
        params = params or {}
        return self._render(title, path, _page(_search(entries, params), params), json_out, status=status)

    # ---- server/info, apps ----
    def _server_info(self, json_out: bool) -> Response:
        content = {
            "build": SPLUNK_BUILD,
            "cpu_arch": "x86_64",
            "guid": self.guid,
            "host": self.server_name,
            "isFree": False,
            "isTrial": False,
            "kvStoreStatus": KV_STATES[self.kvstore_state][1],
            "licenseState": "OK",
            "mode": "normal",
            "os_name": "Linux",
            "product_type": "enterprise",
            "serverName": self.server_name,
            "server_roles": ["indexer", "license_master", "kv_store"] if self.kvstore_state == "ready" else ["indexer"],
            "version": SPLUNK_VERSION,
        }
        ent = _Entry("server-info", "/services/server/info/server-info", content, _acl("system", sharing="system"))
        return self._render("server-info", "/services/server/info", [ent], json_out, status=200)

    def _app_info(self, name: str, json_out: bool) -> Response:
        if name != self.app:
            raise _HttpError(404, f"Could not find object id={name}")
        content = {"disabled": False, "label": name, "version": "1.0.0", "visible": True, "configured": True}
        ent = _Entry(name, f"/servicesNS/nobody/system/apps/local/{quote(name, safe='')}", content, _acl(name))
        return self._render("localapps", "/servicesNS/nobody/system/apps/local", [ent], json_out)

    # ---- configs/conf-* ----
    def _merged(self, app: str, conf: str) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for layer in (self._default.get((app, conf), {}), self._local.get((app, conf), {})):
            for st, kv in layer.items():
                out.setdefault(st, {}).update(kv)
        return out

    def _conf_entry(self, app: str, owner: str, conf: str, stanza: str, kv: dict[str, str]) -> _Entry:
        content: dict[str, Any] = {"disabled": kv.get("disabled", "0"), "eai:appName": app, "eai:userName": owner}
        content.update({k: v for k, v in kv.items()})
        path = f"/servicesNS/{owner}/{app}/configs/conf-{conf}/{quote(stanza, safe='')}"
        removable = stanza not in self._default.get((app, conf), {})
        return _Entry(stanza, path, content, _acl(app, removable=removable))

    def _configs(
        self,
        req: Request,
        ns: tuple[str, str],
        conf: str,
        seg: list[str],
        params: dict[str, str],
        form: dict[str, str],
        json_out: bool,
    ) -> Response:
        owner, app = ns
        if app in ("-", "system"):
            app = self.app  # wildcard/system reads see this app's files (single-app stand-in)
        base = f"/servicesNS/{owner}/{app}/configs/conf-{conf}"
        with self._lock:
            if req.method == "GET":
                if seg and seg[0] in ("_new", "_reload"):
                    return self._render(conf, base, [], json_out)
                if (app, conf) not in self._conf_files:
                    # configs/conf-x answers an empty list for a missing file (unlike properties/x)
                    if seg:
                        raise _HttpError(404, f"Could not find object id={seg[0]}")
                    return self._render(conf, base, [], json_out)
                merged = self._merged(app, conf)
                if seg:
                    if seg[0] not in merged:
                        raise _HttpError(404, f"Could not find object id={seg[0]}")
                    return self._render(
                        conf, base, [self._conf_entry(app, owner, conf, seg[0], merged[seg[0]])], json_out
                    )
                entries = [self._conf_entry(app, owner, conf, st, kv) for st, kv in merged.items() if st != "default"]
                return self._render(conf, base, _page(_search(entries, params), params), json_out, total=None)
            if req.method == "POST":
                values = {k: v for k, v in form.items() if k != "output_mode"}
                if not seg:  # create
                    name = values.pop("name", None)
                    if not name:
                        raise _HttpError(400, 'Argument "name" is not supported by this handler.')
                    self._conf_files.add((app, conf))
                    merged = self._merged(app, conf)
                    if name in merged:
                        raise _HttpError(409, f"An object with name={name} already exists")
                    self._local.setdefault((app, conf), {})[name] = dict(values)
                    ent = self._conf_entry(app, owner, conf, name, self._merged(app, conf)[name])
                    return self._render(conf, base, [ent], json_out, status=201)
                if seg[0] == "_reload":
                    return self._render(conf, base, [], json_out)
                stanza = seg[0]
                merged = self._merged(app, conf)
                if stanza not in merged:
                    raise _HttpError(404, f"Could not find object id={stanza}")
                values.pop("name", None)
                self._local.setdefault((app, conf), {}).setdefault(stanza, {}).update(values)
                ent = self._conf_entry(app, owner, conf, stanza, self._merged(app, conf)[stanza])
                return self._render(conf, base, [ent], json_out)
            if req.method == "DELETE" and seg:
                stanza = seg[0]
                local = self._local.get((app, conf), {})
                if stanza not in local:
                    raise _HttpError(404, f"Could not find object id={stanza}")
                del local[stanza]
                entries = [self._conf_entry(app, owner, conf, st, kv) for st, kv in self._merged(app, conf).items()]
                return self._render(conf, base, entries, json_out)
        raise _HttpError(405, f"Method {req.method} not allowed")

    # ---- properties ----
    def _properties(
        self,
        req: Request,
        ns: tuple[str, str],
        seg: list[str],
        params: dict[str, str],
        form: dict[str, str],
        json_out: bool,
    ) -> Response:
        owner, app = ns
        if app in ("-", "system"):
            app = self.app
        base = f"/servicesNS/{owner}/{app}/properties"
        with self._lock:
            if req.method == "POST" and not seg:
                name = form.get("__conf")
                if not name:
                    raise _HttpError(400, "Missing argument: __conf")
                self._conf_files.add((app, name))
                return Response(201, b"", [("Content-Type", ATOM_CT)])
            if not seg:
                files = sorted({f for a, f in self._conf_files if a == app})
                entries = [_Entry(f, f"{base}/{quote(f, safe='')}", {}, _acl(app)) for f in files]
                return self._render("conf-files", base, _page(entries, params), json_out)
            conf = seg[0]
            if (app, conf) not in self._conf_files:
                raise _HttpError(404, f"Could not find object id={conf}")
            merged = self._merged(app, conf)
            if req.method == "POST" and len(seg) == 1:
                st = form.get("__stanza")
                if not st:
                    raise _HttpError(400, "Missing argument: __stanza")
                self._local.setdefault((app, conf), {}).setdefault(st, {})
                return Response(201, b"", [("Content-Type", ATOM_CT)])
            if len(seg) == 1:
                entries = [_Entry(st, f"{base}/{conf}/{quote(st, safe='')}", {}, _acl(app)) for st in merged]
                return self._render(conf, f"{base}/{conf}", _page(entries, params), json_out)
            stanza = seg[1]
            if req.method == "POST":
                self._local.setdefault((app, conf), {}).setdefault(stanza, {}).update(
                    {k: v for k, v in form.items() if k != "output_mode"}
                )
                return Response(200, b"", [("Content-Type", ATOM_CT)])
            if stanza not in merged:
                raise _HttpError(404, f"Could not find object id={stanza}")
            if len(seg) == 2:
                entries = [
                    _Entry(k, f"{base}/{conf}/{quote(stanza, safe='')}/{quote(k, safe='')}", v, _acl(app))
                    for k, v in merged[stanza].items()
                ]
                return self._render(stanza, f"{base}/{conf}/{stanza}", entries, json_out)
            value = merged[stanza].get(seg[2])
            if value is None:
                raise _HttpError(404, f"Could not find object id={seg[2]}")
            return Response(200, value.encode(), [("Content-Type", "text/plain; charset=utf-8")])

    # ---- storage/passwords ----
    def _pw_entry(self, p: _Password, owner: str) -> _Entry:
        name = password_name(p.realm, p.username)
        content = {
            "clear_password": p.clear_password,
            "encr_password": "$7$" + secrets.token_urlsafe(max(8, len(p.clear_password))),
            "password": "********",
            "realm": p.realm,
            "username": p.username,
        }
        return _Entry(
            name, f"/servicesNS/{p.owner}/{p.app}/storage/passwords/{quote(name, safe='')}", content, _acl(p.app)
        )

    def _storage_passwords(
        self, req: Request, ns: tuple[str, str], name: str, params: dict[str, str], form: dict[str, str], json_out: bool
    ) -> Response:
        owner, app = ns
        base = f"/servicesNS/{owner}/{app}/storage/passwords"
        with self._lock:
            visible = {n: p for (a, n), p in self._passwords.items() if app in ("-", a)}
            if req.method == "GET":
                if name:
                    if name not in visible:
                        raise _HttpError(404, f"Could not find object id={name}")
                    return self._render("passwords", base, [self._pw_entry(visible[name], owner)], json_out)
                entries = [self._pw_entry(p, owner) for p in visible.values()]
                return self._render("passwords", base, _page(_search(entries, params), params), json_out, total=None)
            if req.method == "POST" and not name:
                user = form.get("name")
                if not user:
                    raise _HttpError(400, "Missing argument: name")
                if "password" not in form:
                    raise _HttpError(400, "Missing argument: password")
                if app in ("-", "system"):
                    raise _HttpError(400, "Passwords must be created in an app namespace (stand-in)")
                pname = password_name(form.get("realm"), user)
                if (app, pname) in self._passwords:
                    raise _HttpError(409, f"An object with name={pname} already exists")
                p = _Password(form.get("realm", ""), user, form["password"], app, owner)
                self._passwords[(app, pname)] = p
                return self._render("passwords", base, [self._pw_entry(p, owner)], json_out, status=201)
            if req.method == "POST" and name:
                if name not in visible:
                    raise _HttpError(404, f"Could not find object id={name}")
                if "password" not in form:
                    raise _HttpError(400, "Missing argument: password")
                visible[name].clear_password = form["password"]
                return self._render("passwords", base, [self._pw_entry(visible[name], owner)], json_out)
            if req.method == "DELETE" and name:
                key = next(((a, n) for (a, n) in self._passwords if n == name and app in ("-", a)), None)
                if key is None:
                    raise _HttpError(404, f"Could not find object id={name}")
                del self._passwords[key]
                entries = [self._pw_entry(p, owner) for (a, _), p in self._passwords.items() if a == key[0]]
                return self._render("passwords", base, entries, json_out)
        raise _HttpError(405, f"Method {req.method} not allowed")

    # ---- KV store ----
    def _kv_check(self) -> None:
        message = KV_STATES[self.kvstore_state][0]
        if message:
            raise _HttpError(503, message)

    def _coll_entry(self, c: _Collection, owner: str) -> _Entry:
        content: dict[str, Any] = {"disabled": "0", "eai:appName": c.app, "eai:userName": owner, "replicate": "0"}
        content.update({f"field.{k}": v for k, v in c.fields.items()})
        path = f"/servicesNS/{owner}/{c.app}/storage/collections/config/{quote(c.name, safe='')}"
        return _Entry(c.name, path, content, _acl(c.app))

    def _kv_config(
        self,
        req: Request,
        ns: tuple[str, str],
        seg: list[str],
        params: dict[str, str],
        form: dict[str, str],
        json_out: bool,
    ) -> Response:
        owner, app = ns
        base = f"/servicesNS/{owner}/{app}/storage/collections/config"
        with self._lock:
            colls = {n: c for (a, n), c in self._collections.items() if app in ("-", a)}
            if req.method == "GET":
                if seg:
                    if seg[0] not in colls:
                        raise _HttpError(404, f"Could not find object id={seg[0]}")
                    return self._render("collections-conf", base, [self._coll_entry(colls[seg[0]], owner)], json_out)
                entries = [self._coll_entry(c, owner) for c in colls.values()]
                return self._render("collections-conf", base, _page(_search(entries, params), params), json_out)
            if req.method == "POST" and not seg:
                name = form.get("name")
                if not name:
                    raise _HttpError(400, "Missing argument: name")
                if (app, name) in self._collections:
                    raise _HttpError(409, f"An object with name={name} already exists")
                c = _Collection(name, app, {k[6:]: v for k, v in form.items() if k.startswith("field.")})
                self._collections[(app, name)] = c
                return self._render("collections-conf", base, [self._coll_entry(c, owner)], json_out, status=201)
            if req.method == "POST" and seg:
                found = colls.get(seg[0])
                if found is None:
                    raise _HttpError(404, f"Could not find object id={seg[0]}")
                found.fields.update({k[6:]: v for k, v in form.items() if k.startswith("field.")})
                return self._render("collections-conf", base, [self._coll_entry(found, owner)], json_out)
            if req.method == "DELETE" and seg:
                if (app, seg[0]) not in self._collections:
                    raise _HttpError(404, f"Could not find object id={seg[0]}")
                del self._collections[(app, seg[0])]
                return self._render("collections-conf", base, [], json_out)
        raise _HttpError(405, f"Method {req.method} not allowed")

    def _kv_data(
        self, req: Request, ns: tuple[str, str], coll: str, seg: list[str], params: dict[str, str]
    ) -> Response:
        owner, app = ns
        with self._lock:
            c = self._collections.get((app, coll))
            if c is None:
                raise _HttpError(404, f"Collection: {coll} does not exist")
            m = req.method
            if m == "GET" and not seg:
                query = json.loads(params["query"]) if params.get("query") else {}
                docs = [self._doc_out(d, owner) for d in c.docs.values() if _kv_match(d, query)]
                if params.get("sort"):
                    for part in reversed(params["sort"].split(",")):
                        name, _, direction = part.partition(":")
                        docs.sort(key=_doc_sort_key(name), reverse=direction == "-1")
                skip = int(params.get("skip") or 0)
                limit = int(params.get("limit") or 0)
                docs = docs[skip : skip + limit] if limit else docs[skip:]
                return _json_resp(200, docs)
            if m == "GET" and len(seg) == 1:
                d = c.docs.get(seg[0])
                if d is None:
                    raise _HttpError(404, "Could not find object.")
                return _json_resp(200, self._doc_out(d, owner))
            if m == "POST":
                try:
                    payload = json.loads(req.body or b"null")
                except ValueError:
                    raise _HttpError(400, "Malformed JSON in request body") from None
                if not seg:
                    if not isinstance(payload, dict):
                        raise _HttpError(400, "Document must be a JSON object")
                    key = str(payload.get("_key") or secrets.token_hex(12))
                    if key in c.docs:
                        raise _HttpError(409, "A document with the same key and user already exists.")
                    c.docs[key] = {**payload, "_key": key}
                    return _json_resp(201, {"_key": key})
                if seg[0] == "batch_save":
                    if not isinstance(payload, list):
                        raise _HttpError(400, "batch_save expects a JSON array")
                    if len(payload) > MAX_BATCH_SAVE:
                        raise _HttpError(
                            400,
                            "Request exceeds API limits - see limits.conf for details. "
                            f"(Too many documents for a single batch save, limit is {MAX_BATCH_SAVE})",
                        )
                    keys = []
                    for doc in payload:
                        key = str(doc.get("_key") or secrets.token_hex(12))
                        c.docs[key] = {**doc, "_key": key}
                        keys.append(key)
                    return _json_resp(200, keys)
                if seg[0] == "batch_find":
                    queries = payload if isinstance(payload, list) else []
                    return _json_resp(
                        200,
                        [
                            [self._doc_out(d, owner) for d in c.docs.values() if _kv_match(d, q.get("query", {}))]
                            for q in queries
                        ],
                    )
                key = seg[0]
                if key not in c.docs:
                    raise _HttpError(404, "Could not find object.")
                if not isinstance(payload, dict):
                    raise _HttpError(400, "Document must be a JSON object")
                c.docs[key] = {**payload, "_key": key}
                return _json_resp(200, {"_key": key})
            if m == "DELETE":
                if seg:
                    if seg[0] not in c.docs:
                        raise _HttpError(404, "Could not find object.")
                    del c.docs[seg[0]]
                    return Response(200, b"", [("Content-Type", JSON_CT)])
                query = json.loads(params["query"]) if params.get("query") else {}
                for k in [k for k, d in c.docs.items() if _kv_match(d, query)]:
                    del c.docs[k]
                return Response(200, b"", [("Content-Type", JSON_CT)])
        raise _HttpError(405, f"Method {req.method} not allowed")

    @staticmethod
    def _doc_out(d: dict[str, Any], owner: str) -> dict[str, Any]:
        return {**d, "_user": owner}

    # ---- rendering ----
    def _render(
        self,
        title: str,
        path: str,
        entries: list[_Entry],
        json_out: bool,
        *,
        status: int = 200,
        total: int | None = None,
    ) -> Response:
        total = len(entries) if total is None else total
        origin = f"https://127.0.0.1:{self.port}{path}"
        if json_out:
            body = {
                "links": {"create": f"{path}/_new", "_reload": f"{path}/_reload"},
                "origin": origin,
                "updated": _now_iso(),
                "generator": {"build": SPLUNK_BUILD, "version": SPLUNK_VERSION},
                "entry": [e.to_json(self.port) for e in entries],
                "paging": {"total": total, "perPage": DEFAULT_COUNT, "offset": 0},
                "messages": [],
            }
            return _json_resp(status, body)
        xml = [
            '<?xml version="1.0" encoding="UTF-8"?>\n',
            # splunkd really sends this comment before the feed
            "<!--This is to override browser formatting; see server.conf[httpServer] to disable. "
            ". . . . . . . . . . . . . . . . . . . . . .-->\n",
            '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:s="http://dev.splunk.com/ns/rest" '
            'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">\n',
            f"  <title>{escape(title)}</title>\n  <id>{escape(origin)}</id>\n  <updated>{_now_iso()}</updated>\n",
            f'  <generator build="{SPLUNK_BUILD}" version="{SPLUNK_VERSION}"/>\n',
            "  <author>\n    <name>Splunk</name>\n  </author>\n",
            f'  <link href={quoteattr(path + "/_new")} rel="create"/>\n',
            f"  <opensearch:totalResults>{total}</opensearch:totalResults>\n",
            f"  <opensearch:itemsPerPage>{DEFAULT_COUNT}</opensearch:itemsPerPage>\n",
            "  <opensearch:startIndex>0</opensearch:startIndex>\n  <s:messages/>\n",
        ]
        xml += [e.to_atom(self.port) for e in entries]
        xml.append("</feed>\n")
        return Response(status, "".join(xml).encode("utf-8"), [("Content-Type", ATOM_CT)])


# ------------------------------------------------------------------------------------------
class Extension(Protocol):
    """More endpoints: ``classify`` names a path's endpoint class (or None); ``handle``
    answers it (or None for "not mine"), raising :class:`SplunkdError` for splunkd's errors."""

    def classify(self, seg: list[str]) -> str | None: ...

    def handle(
        self,
        splunkd: SplunkdStandin,
        req: Request,
        ns: tuple[str, str],
        seg: list[str],
        params: dict[str, str],
        form: dict[str, str],
        json_out: bool,
    ) -> Response | None: ...


@dataclass
class _Entry:
    name: str
    path: str
    content: Any  # dict, or a plain value for properties/<file>/<stanza> keys
    acl: dict[str, Any]

    def to_atom(self, port: int) -> str:
        links = [
            ("alternate", self.path),
            ("list", self.path),
            ("_reload", self.path + "/_reload"),
            ("edit", self.path),
        ]
        if self.acl.get("removable") == "1":
            links.append(("remove", self.path))
        parts = [
            "  <entry>\n",
            f"    <title>{escape(self.name)}</title>\n",
            f"    <id>{escape(f'https://127.0.0.1:{port}{self.path}')}</id>\n",
            f"    <updated>{_now_iso()}</updated>\n",
        ]
        parts += [f"    <link href={quoteattr(href)} rel={quoteattr(rel)}/>\n" for rel, href in links]
        parts.append(f"    <author>\n      <name>{escape(self.acl.get('owner', 'nobody'))}</name>\n    </author>\n")
        if isinstance(self.content, dict):
            inner = dict(self.content)
            inner["eai:acl"] = self.acl
            parts.append(f'    <content type="text/xml">\n      {_atom_value(inner)}\n    </content>\n')
        else:
            parts.append(f'    <content type="text">{escape(_s(self.content))}</content>\n')
        parts.append("  </entry>\n")
        return "".join(parts)

    def to_json(self, port: int) -> dict[str, Any]:
        acl = {k: (v == "1" if v in ("0", "1") else v) for k, v in self.acl.items()}
        links = {"alternate": self.path, "list": self.path, "_reload": self.path + "/_reload", "edit": self.path}
        if self.acl.get("removable") == "1":
            links["remove"] = self.path
        content = dict(self.content) if isinstance(self.content, dict) else self.content
        if isinstance(content, dict):
            content["eai:acl"] = None
            if "disabled" in content:
                content["disabled"] = content["disabled"] in ("1", "true", True)
        return {
            "name": self.name,
            "id": f"https://127.0.0.1:{port}{self.path}",
            "updated": _now_iso(),
            "links": links,
            "author": self.acl.get("owner", "nobody"),
            "acl": acl,
            "content": content,
        }


Entry = _Entry
SplunkdError = _HttpError


def make_acl(app: str, *, owner: str = "nobody", removable: bool = True) -> dict[str, Any]:
    return _acl(app, owner=owner, removable=removable)


def _acl(app: str, *, owner: str = "nobody", sharing: str = "app", removable: bool = True) -> dict[str, Any]:
    return {
        "app": app,
        "can_change_perms": "1",
        "can_list": "1",
        "can_share_app": "1",
        "can_share_global": "1",
        "can_share_user": "0",
        "can_write": "1",
        "modifiable": "1",
        "owner": owner,
        "perms": {"read": ["*"], "write": ["admin", "sc_admin"]},
        "removable": "1" if removable else "0",
        "sharing": sharing,
    }


def _atom_value(v: Any) -> str:
    if isinstance(v, dict):
        keys = "".join(f"<s:key name={quoteattr(str(k))}>{_atom_value(x)}</s:key>" for k, x in v.items())
        return f"<s:dict>{keys}</s:dict>"
    if isinstance(v, (list, tuple)):
        return "<s:list>" + "".join(f"<s:item>{_atom_value(x)}</s:item>" for x in v) + "</s:list>"
    return escape(_s(v))


def _s(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "1" if v else "0"
    return str(v)


def _is_form(req: Request) -> bool:
    ct = req.headers.get("content-type", "application/x-www-form-urlencoded")
    return "json" not in ct


def _classify(rest: list[str]) -> str:
    seg = [unquote(s) for s in rest if s]
    if seg[:2] == ["server", "info"]:
        return "server-info"
    if seg[:2] == ["apps", "local"]:
        return "apps"
    if seg and seg[0].startswith("configs"):
        return "configs"
    if seg and seg[0] == "properties":
        return "properties"
    if seg[:2] == ["storage", "passwords"]:
        return "passwords"
    if seg[:3] == ["storage", "collections", "config"]:
        return "kv-config"
    if seg[:3] == ["storage", "collections", "data"]:
        return "kv-data"
    if seg[:1] == ["authentication"]:
        return "auth"
    if seg[:1] == [SETTINGS_CONF]:
        return "ucc-settings"
    return "unknown"


def _search(entries: list[_Entry], params: dict[str, str]) -> list[_Entry]:
    """splunkd's ``search=`` filter, modelled as case-insensitive substring/glob matches."""
    text = (params.get("search") or "").strip()
    if not text:
        return entries
    terms = text.split()

    def value_of(e: _Entry, k: str) -> list[str]:
        if k in ("name", "title"):
            return [e.name]
        if k.startswith("eai:acl."):
            return [_s(e.acl.get(k[8:]))]
        if isinstance(e.content, dict):
            return [_s(e.content.get(k))] if k in e.content else []
        return []

    def hit(value: str, pattern: str) -> bool:
        v, p = value.lower(), pattern.lower()
        return fnmatchcase(v, p) if "*" in p else p in v

    def ok(e: _Entry) -> bool:
        for t in terms:
            if "=" in t:
                k, _, pat = t.partition("=")
                pat = pat.replace("\\=", "=")
                if not any(hit(v, pat) for v in value_of(e, k)):
                    return False
            else:
                vals = [e.name] + ([_s(v) for v in e.content.values()] if isinstance(e.content, dict) else [])
                if not any(hit(v, t) for v in vals):
                    return False
        return True

    return [e for e in entries if ok(e)]


def _page(entries: list[_Entry], params: dict[str, str]) -> list[_Entry]:
    # splunkd's default page is 30 entries; count=0 or -1 means all
    count = int(params.get("count", DEFAULT_COUNT) or DEFAULT_COUNT)
    offset = int(params.get("offset", 0) or 0)
    if count <= 0:
        return entries[offset:]
    return entries[offset : offset + count]


def _doc_sort_key(name: str) -> Callable[[dict[str, Any]], tuple[bool, str]]:
    return lambda d: (d.get(name) is not None, str(d.get(name)))


def _kv_match(doc: dict[str, Any], query: dict[str, Any]) -> bool:
    ops: dict[str, Callable[[Any, Any], bool]] = {
        "$gt": lambda a, b: a is not None and a > b,
        "$gte": lambda a, b: a is not None and a >= b,
        "$lt": lambda a, b: a is not None and a < b,
        "$lte": lambda a, b: a is not None and a <= b,
        "$ne": lambda a, b: a != b,
    }
    for k, cond in query.items():
        if k == "$and":
            if not all(_kv_match(doc, q) for q in cond):
                return False
            continue
        if k == "$or":
            if not any(_kv_match(doc, q) for q in cond):
                return False
            continue
        v = doc.get(k)
        if isinstance(cond, dict):
            for op, arg in cond.items():
                if op not in ops or not ops[op](v, arg):
                    return False
        elif v != cond:
            return False
    return True


def _json_resp(status: int, body: Any) -> Response:
    return Response(status, json.dumps(body).encode("utf-8"), [("Content-Type", JSON_CT)])


def _error(status: int, message: str, json_out: bool, msg_type: str = "ERROR") -> Response:
    if json_out:
        return _json_resp(status, {"messages": [{"type": msg_type, "text": message}]})
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<response>\n  <messages>\n'
        f'    <msg type="{msg_type}">{escape(message)}</msg>\n  </messages>\n</response>\n'
    )
    return Response(status, xml.encode("utf-8"), [("Content-Type", ATOM_CT)])


__all__ = [
    "ACCOUNT_CONF",
    "APP_ID",
    "Entry",
    "Extension",
    "make_acl",
    "SplunkdError",
    "SETTINGS_CONF",
    "SplunkdRequest",
    "SplunkdStandin",
    "credential_realm",
    "parse_conf_text",
    "password_name",
]
