"""A local stand-in for Entra ID (token endpoint) and the Defender for Endpoint alerts API.

Why this file exists: no Microsoft cloud is reachable from the test machines, yet the
add-on must be shown to work against the contract Microsoft documents, *including* the
parts that break collectors in production (FACTS.md sections 1, 2 and 7):

* Entra ID's v2 client-credentials flow as MSAL drives it: OIDC discovery on
  construction, secrets or certificate assertions (RS256 + ``x5t`` or PS256 +
  ``x5t#S256``; MSAL 1.39 picks the latter when given a certificate instead of a
  thumbprint), the AADSTS error codes an operator will actually meet (unknown tenant,
  wrong or expired secret, app not in tenant, wrong national cloud, missing consent).
* ``GET /api/alerts`` with OData ``$filter`` on time fields (unquoted literals, up to
  7 fractional digits), ``$orderby``, ``$top`` (max 10,000), ``$skip``,
  ``$expand=evidence``; no ``@odata.nextLink`` unless asked for; timestamps printed
  with trailing zeros dropped; 100 calls/minute and 1,500/hour per (tenant, app) with
  ``429`` + ``Retry-After``; a tenant's data only on the global hosts and its own
  geo/gov host; alert *states* that replace each other when an alert changes, and may
  become visible later than their ``lastUpdateTime`` says (indexing lag).
* Faults on demand: 5xx, TCP reset, truncated body, slow answer, HTML 200, JSON 200
  without ``value``.

Everything is in memory; one port serves every hostname and dispatches on ``Host``
(the hostmap ``sitecustomize`` sends the real names here). All times the stand-in
decides with (token expiry, throttling windows, visibility) come from an injectable
clock so tests never wait real minutes.

Modelling choices (not documented by Microsoft, chosen to be strict):
* Geo routing: a commercial tenant is served by ``api.security.microsoft.com``,
  ``api.securitycenter.microsoft.com`` and its own geo host(s); a GCC tenant only by
  ``api-gcc.securitycenter.microsoft.us``; GCC High/DoD only by
  ``api-gov.securitycenter.microsoft.us``. Other hosts answer 404 ``ResourceNotFound``.
* Without ``$orderby`` results come in alert-id order (stable but unrelated to time),
  so a collector that relies on an implicit order is caught. With ``ignore_orderby``
  the stand-in accepts ``$orderby`` and ignores it, answering in a stable "storage
  order" that is shuffled against time (a change on Microsoft's side, or a reordering
  proxy or cache); ``$skip`` inside a fixed window stays stable. Ties in the sort key
  are broken by id (ascending for ``asc``, descending for ``desc``).
* ``$filter`` supports ``and``-joined comparisons (optionally parenthesised) on
  ``lastUpdateTime``, ``alertCreationTime``, ``lastEventTime`` (``eq ne gt ge lt le``)
  and ``eq``/``ne`` on ``id status severity category detectionSource assignedTo``;
  anything else is a 400. Property names are case-sensitive.
* Rejected calls (429) do not use up budget unless ``count_throttled_calls=True``.
* A faulted call (other than "slow"/"truncate", which run the real request) is not
  counted against the rate limit.
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import json
import math
import random
import re
import secrets
import threading
import time
import uuid
from base64 import urlsafe_b64decode
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, unquote, urlencode

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ._server import HttpsServer, Request, Response
from .microsoft_response import GRAPH_HOSTS, GRAPH_RESOURCES, ResponseStandin
from .timefmt import format_ticks, parse_odata_datetime, parse_ticks, ticks_from_epoch, to_ticks

# --------------------------------------------------------------------------------------
# Hosts, clouds, resources
# --------------------------------------------------------------------------------------
LOGIN_COMMERCIAL = "login.microsoftonline.com"
LOGIN_GOV = "login.microsoftonline.us"
LOGIN_HOSTS = (LOGIN_COMMERCIAL, LOGIN_GOV)
GLOBAL_API_HOSTS = ("api.security.microsoft.com", "api.securitycenter.microsoft.com")
GEO_API_HOSTS: dict[str, tuple[str, ...]] = {
    "us": ("us.api.security.microsoft.com", "api-us.securitycenter.microsoft.com"),
    "eu": ("eu.api.security.microsoft.com", "api-eu.securitycenter.microsoft.com"),
    "uk": ("uk.api.security.microsoft.com", "api-uk.securitycenter.microsoft.com"),
    "au": ("au.api.security.microsoft.com", "api-au.securitycenter.microsoft.com"),
    "swa": ("swa.api.security.microsoft.com",),
    "ina": ("ina.api.security.microsoft.com",),
}
GCC_API_HOST = "api-gcc.securitycenter.microsoft.us"
GOV_API_HOST = "api-gov.securitycenter.microsoft.us"
API_HOSTS = GLOBAL_API_HOSTS + tuple(h for hs in GEO_API_HOSTS.values() for h in hs) + (GCC_API_HOST, GOV_API_HOST)
ALL_HOSTS = LOGIN_HOSTS + API_HOSTS + GRAPH_HOSTS

CLOUDS = ("commercial", "gcc", "gcc_high", "dod")
# Which login host a tenant of each cloud lives on (GCC uses the commercial Entra ID).
CLOUD_LOGIN_HOST = {"commercial": LOGIN_COMMERCIAL, "gcc": LOGIN_COMMERCIAL, "gcc_high": LOGIN_GOV, "dod": LOGIN_GOV}
# Resources (application ID URIs) of the WindowsDefenderATP app in each Entra cloud.
COMMERCIAL_RESOURCES = (
    "https://api.securitycenter.microsoft.com",
    "https://securitycenter.onmicrosoft.com/windowsatpservice",
)
GOV_RESOURCES = (
    "https://api-gov.securitycenter.microsoft.us",
    "https://securitycenter.onmicrosoft.us/windowsatpservice",
)
LOGIN_RESOURCES = {LOGIN_COMMERCIAL: COMMERCIAL_RESOURCES, LOGIN_GOV: GOV_RESOURCES}
READ_ROLES = ("Alert.Read.All", "Alert.ReadWrite.All")
_RESERVED_SCOPES = {"openid", "profile", "offline_access"}
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

JSON_CT = "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8"
AAD_JSON_CT = "application/json; charset=utf-8"


def _uuid() -> str:
    return str(uuid.uuid4())


def _b64url_decode(part: str) -> bytes:
    return urlsafe_b64decode(part + "=" * (-len(part) % 4))


class ManualClock:
    """A clock tests move by hand: ``clock.advance(61)`` skips a throttling window."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


# --------------------------------------------------------------------------------------
# Tenants and apps
# --------------------------------------------------------------------------------------
@dataclass
class AppCert:
    sha1: bytes
    sha256: bytes
    public_key: Any


@dataclass
class App:
    client_id: str
    secret: str | None = None
    secret_expired: bool = False
    certs: list[AppCert] = field(default_factory=list)
    roles: tuple[str, ...] = ("Alert.Read.All",)
    consented: bool = True


@dataclass
class Tenant:
    tenant_id: str
    domain: str | None
    cloud: str
    geo: str
    apps: dict[str, App]
    store: AlertStore
    machines: dict[str, dict[str, Any]] = field(default_factory=dict)  # response side: microsoft_response.py
    machine_actions: dict[str, Any] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def login_host(self) -> str:
        return CLOUD_LOGIN_HOST[self.cloud]

    @property
    def display(self) -> str:
        return self.domain or self.tenant_id

    def serves(self, host: str) -> bool:
        if self.cloud == "commercial":
            return host in GLOBAL_API_HOSTS or host in GEO_API_HOSTS.get(self.geo, ())
        if self.cloud == "gcc":
            return host == GCC_API_HOST
        return host == GOV_API_HOST


@dataclass
class TokenInfo:
    tenant_id: str
    client_id: str
    roles: tuple[str, ...]
    expires_at: float
    login_host: str
    resource: str
    revoked: bool = False


# --------------------------------------------------------------------------------------
# Alert store
# --------------------------------------------------------------------------------------
_EV_SLOT = "__standin_evidence_slot__"
_EV_SLOT_JSON = json.dumps(_EV_SLOT)
_TIME_FIELDS = ("lastUpdateTime", "alertCreationTime", "lastEventTime")
_STRING_FIELDS = ("id", "status", "severity", "category", "detectionSource", "assignedTo")


class _State:
    """One version of one alert, serialized once: ``head + evidence + tail`` is its JSON."""

    __slots__ = ("alert_id", "seq", "lut", "act", "let", "attrs", "head", "ev", "tail", "visible_at")

    def __init__(self, alert: dict[str, Any], seq: int, visible_at: float) -> None:
        a = dict(alert)
        if not isinstance(a.get("id"), str) or not a["id"]:
            raise ValueError("an alert needs a string id")
        if not isinstance(a.get("lastUpdateTime"), str):
            raise ValueError(f"alert {a.get('id')} needs lastUpdateTime")
        self.alert_id: str = a["id"]
        self.seq = seq
        self.visible_at = visible_at
        # Normalise the time fields to Defender's printing (trailing zeros dropped).
        self.lut = parse_ticks(a["lastUpdateTime"])
        a["lastUpdateTime"] = format_ticks(self.lut)
        self.act = parse_ticks(a["alertCreationTime"]) if isinstance(a.get("alertCreationTime"), str) else None
        if self.act is not None:
            a["alertCreationTime"] = format_ticks(self.act)
        self.let = parse_ticks(a["lastEventTime"]) if isinstance(a.get("lastEventTime"), str) else None
        self.attrs = {k: a.get(k) for k in _STRING_FIELDS}
        evidence = a.get("evidence") or []
        a["evidence"] = _EV_SLOT
        text = json.dumps(a, ensure_ascii=False, separators=(",", ":"))
        i = text.index(_EV_SLOT_JSON)
        self.head = text[:i].encode("utf-8")
        self.tail = text[i + len(_EV_SLOT_JSON) :].encode("utf-8")
        self.ev = json.dumps(evidence, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def to_dict(self, evidence: bool = True) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.head + (self.ev if evidence else b"[]") + self.tail)
        return result

    def time(self, name: str) -> int | None:
        return self.lut if name == "lastUpdateTime" else self.act if name == "alertCreationTime" else self.let


class AlertStore:
    """Current visible state of each alert, kept sorted by (lastUpdateTime ticks, id).

    States become visible at their ``visible_at`` (server clock). The newest state of an
    alert that is visible is what the API shows; older states vanish, as in Defender.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.keys: list[tuple[int, str]] = []  # sorted (lut, id) of visible states
        self.visible: dict[str, _State] = {}
        self.latest: dict[str, _State] = {}  # newest state, visible or not
        self.pending: list[tuple[float, int, _State]] = []  # heap by visible_at
        self._seq = 0

    def __len__(self) -> int:
        return len(self.visible)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def put(self, alert: dict[str, Any], visible_at: float, now: float) -> None:
        self.put_many([alert], visible_at, now)

    def put_many(self, alerts: Iterable[dict[str, Any]], visible_at: float, now: float) -> int:
        """Add states in bulk: one sort instead of an insort per alert (100k alerts in ~1 s)."""
        with self.lock:
            batch: dict[str, _State] = {}
            n = 0
            for a in alerts:
                st = _State(a, self._next_seq(), visible_at)
                self.latest[st.alert_id] = st
                n += 1
                if visible_at <= now:
                    batch[st.alert_id] = st  # a later state of the same alert in the batch wins
                else:
                    heapq.heappush(self.pending, (visible_at, st.seq, st))
            if len(batch) < 64:
                for st in batch.values():
                    self._show(st)
                return n
            removed = set()
            for aid, st in batch.items():
                cur = self.visible.get(aid)
                if cur is not None:
                    removed.add((cur.lut, aid))
                self.visible[aid] = st
            if removed:
                self.keys = [k for k in self.keys if k not in removed]
            self.keys.extend((st.lut, aid) for aid, st in batch.items())
            self.keys.sort()
            return n

    def _show(self, st: _State) -> None:
        cur = self.visible.get(st.alert_id)
        if cur is not None:
            if cur.seq > st.seq:
                return  # a newer state is already visible
            i = bisect.bisect_left(self.keys, (cur.lut, cur.alert_id))
            del self.keys[i]
        self.visible[st.alert_id] = st
        bisect.insort(self.keys, (st.lut, st.alert_id))

    def promote(self, now: float) -> None:
        with self.lock:
            while self.pending and self.pending[0][0] <= now:
                _, _, st = heapq.heappop(self.pending)
                self._show(st)

    def pending_count(self) -> int:
        return len(self.pending)


# --------------------------------------------------------------------------------------
# OData
# --------------------------------------------------------------------------------------
class ODataError(ValueError):
    pass


_TOKEN = re.compile(
    r"\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<str>'(?:[^']|'')*')"
    r"|(?P<dt>\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:\d{2}))"
    r"|(?P<num>-?\d+(?:\.\d+)?)|(?P<word>[A-Za-z_][A-Za-z0-9_/.]*))"
)
_OPS = ("eq", "ne", "gt", "ge", "lt", "le")


@dataclass(frozen=True)
class Predicate:
    field: str
    op: str
    value: Any  # ticks for time fields, str/None for string fields


def _tokenize(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ODataError(f"Invalid filter: syntax error at position {pos} in '{text}'")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def parse_filter(text: str) -> list[Predicate]:
    """Parse an ``and``-only OData filter into predicates; ODataError (400) otherwise."""
    tokens = _tokenize(text)
    preds: list[Predicate] = []
    i = 0
    depth = 0
    expect_term = True
    while i < len(tokens):
        kind, val = tokens[i]
        if expect_term:
            if kind == "lp":
                depth += 1
                i += 1
                continue
            if kind != "word":
                raise ODataError(f"Invalid filter: expected a property name, found '{val}'")
            if val in ("not",):
                raise ODataError("Invalid filter: 'not' is not supported by this stand-in")
            if i + 2 >= len(tokens):
                raise ODataError(f"Invalid filter: incomplete comparison after '{val}'")
            op_kind, op = tokens[i + 1]
            lit_kind, lit = tokens[i + 2]
            if op_kind != "word" or op not in _OPS:
                raise ODataError(f"Invalid filter: unknown operator '{op}'")
            preds.append(_predicate(val, op, lit_kind, lit))
            i += 3
            expect_term = False
        else:
            if kind == "rp":
                depth -= 1
                if depth < 0:
                    raise ODataError("Invalid filter: unbalanced ')'")
                i += 1
                continue
            if kind == "word" and val == "and":
                expect_term = True
                i += 1
                continue
            if kind == "word" and val == "or":
                raise ODataError("Invalid filter: 'or' is not supported by this stand-in")
            raise ODataError(f"Invalid filter: unexpected '{val}'")
    if expect_term or depth != 0:
        raise ODataError("Invalid filter: incomplete expression")
    return preds


def _predicate(name: str, op: str, lit_kind: str, lit: str) -> Predicate:
    if name in _TIME_FIELDS:
        if lit_kind == "str":
            # OData v4: a quoted string is Edm.String and cannot be compared with Edm.DateTimeOffset.
            raise ODataError(
                "Invalid filter: A binary operator with incompatible types was detected. Found operand types "
                f"'Edm.DateTimeOffset' and 'Edm.String' for operator kind '{op}'."
            )
        if lit_kind != "dt":
            raise ODataError(f"Invalid filter: '{lit}' is not a valid DateTimeOffset literal")
        try:
            return Predicate(name, op, parse_odata_datetime(lit))
        except ValueError as e:
            raise ODataError(f"Invalid filter: {e}") from None
    if name in _STRING_FIELDS:
        if op not in ("eq", "ne"):
            raise ODataError(f"Invalid filter: operator '{op}' is not supported on '{name}' by this stand-in")
        if lit_kind == "word" and lit == "null":
            return Predicate(name, op, None)
        if lit_kind != "str":
            raise ODataError(f"Invalid filter: '{name}' must be compared with a quoted string")
        return Predicate(name, op, lit[1:-1].replace("''", "'"))
    raise ODataError(
        f"Invalid filter: Could not find a property named '{name}' on type 'Alert' (or it is not filterable here)"
    )


_ORDER_FIELDS = ("lastUpdateTime", "alertCreationTime", "id")


def _storage_rank(state: Any) -> bytes:
    """A stable order of stored alert states that owes nothing to their times."""
    return hashlib.blake2b(f"{state.alert_id}|{state.lut}".encode(), digest_size=8).digest()


def parse_orderby(text: str) -> list[tuple[str, bool]]:
    keys: list[tuple[str, bool]] = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2:
            raise ODataError(f"Invalid $orderby: '{text}'")
        name = words[0]
        if name not in _ORDER_FIELDS:
            raise ODataError(f"Invalid $orderby: Could not find a property named '{name}' that can be ordered by")
        direction = words[1] if len(words) == 2 else "asc"
        if direction not in ("asc", "desc"):
            raise ODataError(f"Invalid $orderby: unknown direction '{direction}'")
        keys.append((name, direction == "desc"))
    return keys


def _match(st: _State, p: Predicate) -> bool:
    if p.field in _TIME_FIELDS:
        v = st.time(p.field)
        if v is None:
            return False
        t: int = p.value
        results: dict[str, bool] = {"eq": v == t, "ne": v != t, "gt": v > t, "ge": v >= t, "lt": v < t, "le": v <= t}
        return results[p.op]
    eq = st.attrs.get(p.field) == p.value
    return eq if p.op == "eq" else not eq


# --------------------------------------------------------------------------------------
# Throttling
# --------------------------------------------------------------------------------------
class RateLimiter:
    """Sliding windows per key: e.g. 100 calls/60 s and 1,500 calls/3,600 s."""

    def __init__(self, limits: tuple[int, int], windows: tuple[float, float], count_rejected: bool) -> None:
        self.limits = limits
        self.windows = windows
        self.count_rejected = count_rejected
        self._calls: dict[Any, tuple[deque[float], deque[float]]] = {}
        self._lock = threading.Lock()

    def check(self, key: Any, now: float) -> int | None:
        """Record a call; return None if allowed, or the Retry-After seconds."""
        with self._lock:
            dqs = self._calls.setdefault(key, (deque(), deque()))
            for dq, win in zip(dqs, self.windows):
                while dq and dq[0] <= now - win:
                    dq.popleft()
            over = [len(dq) >= lim for dq, lim in zip(dqs, self.limits)]
            if not any(over) or self.count_rejected:
                for dq in dqs:
                    dq.append(now)
            if not any(over):
                return None
            wait = 0.0
            for dq, lim, win, is_over in zip(dqs, self.limits, self.windows, over):
                if is_over:
                    # time until fewer than `lim` calls remain in the window
                    idx = len(dq) - lim
                    wait = max(wait, dq[idx] + win - now)
            return max(1, math.ceil(wait))

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()


# --------------------------------------------------------------------------------------
# Faults and recording
# --------------------------------------------------------------------------------------
FAULT_KINDS = ("http_error", "reset", "truncate", "slow", "html", "no_value", "throttle")
_STATUS_CODES = {500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable", 504: "GatewayTimeout"}


@dataclass
class Fault:
    kind: str
    target: str = "api"  # "api", "token" or "any"
    status: int = 503
    delay: float = 2.0
    retry_after: int = 5
    method: str | None = None  # only requests of this method (e.g. "POST": a write's answer lost)


@dataclass
class RecordedRequest:
    seq: int
    at: float  # wall clock
    kind: str  # token | oidc | instance_discovery | api | other
    method: str
    host: str
    path: str
    query: str
    status: int = 0
    tenant: str | None = None
    client_id: str | None = None
    fault: str | None = None
    sni: str | None = None
    alerts: int = 0  # alerts in the response
    body_bytes: int = 0
    duration: float = 0.0
    error: str | None = None  # AADSTS code or API error code
    scope: str | None = None  # token requests: the scope asked for
    credential: str | None = None  # token requests: "secret", "assertion:RS256", "assertion:PS256"

    @property
    def params(self) -> dict[str, str]:
        from urllib.parse import parse_qsl

        return dict(parse_qsl(self.query, keep_blank_values=True))


# --------------------------------------------------------------------------------------
# The stand-in
# --------------------------------------------------------------------------------------
class MicrosoftStandin(ResponseStandin):
    """Entra ID + Defender for Endpoint API (+ the response APIs and Graph users) on one local HTTPS port.

    ``certfile``/``keyfile`` come from :func:`tests.standins.tls.make_tls_material`.
    """

    def __init__(
        self,
        certfile: str,
        keyfile: str,
        *,
        port: int = 0,
        clock: Callable[[], float] = time.time,
        rate_limits: tuple[int, int] = (100, 1500),
        rate_windows: tuple[float, float] = (60.0, 3600.0),
        count_throttled_calls: bool = False,
        token_lifetime: int = 3599,
        emit_next_link: bool = False,
        ignore_orderby: bool = False,
        default_page_size: int = 10000,
        max_top: int = 10000,
        retention_days: float | None = None,
        fault_seed: int = 0,
        action_timing: tuple[float, float] = (1.0, 2.0),
    ) -> None:
        self._init_response(action_timing)  # machine actions: Pending, InProgress at [0], final at [1] seconds
        self.clock = clock
        self.token_lifetime = token_lifetime
        self.emit_next_link = emit_next_link
        self.ignore_orderby = ignore_orderby
        self.default_page_size = default_page_size
        self.max_top = max_top
        self.retention_days = retention_days
        self.limiter = RateLimiter(rate_limits, rate_windows, count_throttled_calls)
        self.tenants: dict[str, Tenant] = {}
        self._by_domain: dict[str, str] = {}
        self.tokens: dict[str, TokenInfo] = {}
        self._lock = threading.RLock()
        self._fault_queue: deque[Fault] = deque()
        self._fault_rates: list[tuple[float, Fault]] = []
        self._fault_rng = random.Random(fault_seed)
        self._records: list[RecordedRequest] = []
        self._rec_lock = threading.Lock()
        self._server = HttpsServer(self._handle, certfile, keyfile, port=port)

    # -- lifecycle -------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._server.port

    def start(self) -> MicrosoftStandin:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> MicrosoftStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def hostmap(self) -> dict[str, str]:
        """``{hostname: "127.0.0.1:port"}`` for every Microsoft host this stand-in answers."""
        return {h: f"127.0.0.1:{self.port}" for h in ALL_HOSTS}

    # -- seeding: tenants and apps ---------------------------------------------------------
    def add_tenant(
        self, tenant_id: str | None = None, *, domain: str | None = None, cloud: str = "commercial", geo: str = "us"
    ) -> Tenant:
        """Register a tenant. ``cloud``: commercial | gcc | gcc_high | dod; ``geo`` for commercial."""
        if cloud not in CLOUDS:
            raise ValueError(f"cloud must be one of {CLOUDS}")
        if cloud == "commercial" and geo not in GEO_API_HOSTS:
            raise ValueError(f"geo must be one of {sorted(GEO_API_HOSTS)}")
        tid = (tenant_id or _uuid()).lower()
        t = Tenant(tid, domain.lower() if domain else None, cloud, geo, {}, AlertStore())
        with self._lock:
            self.tenants[tid] = t
            if t.domain:
                self._by_domain[t.domain] = tid
        return t

    def add_app(
        self,
        tenant_id: str,
        client_id: str | None = None,
        *,
        secret: str | None = None,
        secret_expired: bool = False,
        certificate_pem: str | bytes | None = None,
        roles: Iterable[str] = ("Alert.Read.All",),
        consented: bool = True,
    ) -> App:
        """Register an app (service principal) in a tenant, with a secret and/or a certificate."""
        app = App(client_id or _uuid(), secret, secret_expired, [], tuple(roles), consented)
        if certificate_pem is not None:
            self.add_app_certificate(app, certificate_pem)
        with self._lock:
            self.tenants[tenant_id.lower()].apps[app.client_id.lower()] = app
        return app

    @staticmethod
    def add_app_certificate(app: App, certificate_pem: str | bytes) -> None:
        pem = certificate_pem.encode() if isinstance(certificate_pem, str) else certificate_pem
        cert = x509.load_pem_x509_certificate(pem)
        # Entra ID names certificates by SHA-1 (x5t) and SHA-256 (x5t#S256) thumbprints.
        sha1 = cert.fingerprint(hashes.SHA1())  # noqa: S303 (an identifier, not security)
        app.certs.append(AppCert(sha1, cert.fingerprint(hashes.SHA256()), cert.public_key()))

    def _tenant(self, key: str) -> Tenant | None:
        k = key.lower()
        tid = self._by_domain.get(k, k)
        return self.tenants.get(tid)

    # -- seeding: alerts -------------------------------------------------------------------
    def add_alerts(self, tenant_id: str, alerts: Iterable[dict[str, Any]], *, visible_at: float | None = None) -> int:
        """Store alerts (each one's current state). ``visible_at``: server time they appear."""
        t = self.tenants[tenant_id.lower()]
        now = self.clock()
        vis = now if visible_at is None else visible_at
        return t.store.put_many(alerts, vis, now)

    def update_alert(
        self,
        tenant_id: str,
        alert_id: str,
        changes: dict[str, Any] | None = None,
        *,
        last_update_time: str | int | datetime | None = None,
        visible_at: float | None = None,
    ) -> dict[str, Any]:
        """Give an alert a new state (e.g. ``{"status": "Resolved"}``) with a new lastUpdateTime.

        ``last_update_time`` defaults to the server clock now; it may lie in the past
        together with a later ``visible_at`` to model Defender's indexing lag.
        """
        t = self.tenants[tenant_id.lower()]
        now = self.clock()
        with t.store.lock:
            base = t.store.latest[alert_id].to_dict(evidence=True)
        base.update(changes or {})
        lut = ticks_from_epoch(now) if last_update_time is None else to_ticks(last_update_time)
        base["lastUpdateTime"] = format_ticks(lut)
        t.store.put(base, now if visible_at is None else visible_at, now)
        return base

    def visible_alerts(self, tenant_id: str, *, evidence: bool = True) -> list[dict[str, Any]]:
        """What the API would show now (sorted by lastUpdateTime, id)."""
        t = self.tenants[tenant_id.lower()]
        t.store.promote(self.clock())
        with t.store.lock:
            return [t.store.visible[i].to_dict(evidence) for _, i in t.store.keys]

    # -- tokens ----------------------------------------------------------------------------
    def expire_all_tokens(self) -> None:
        """Every issued token is now expired server-side (clients' caches still hold them)."""
        now = self.clock()
        with self._lock:
            for info in self.tokens.values():
                info.expires_at = min(info.expires_at, now - 1)

    def revoke_all_tokens(self) -> None:
        with self._lock:
            for info in self.tokens.values():
                info.revoked = True

    # -- faults ----------------------------------------------------------------------------
    def queue_fault(self, kind: str, *, count: int = 1, target: str = "api", **params: Any) -> None:
        """The next *count* matching calls get this fault (FIFO across queued faults).

        kinds: ``http_error`` (``status=500|502|503|504``), ``reset``, ``truncate``,
        ``slow`` (``delay=`` seconds, then the normal answer), ``html``, ``no_value``,
        ``throttle`` (429, ``retry_after=``). ``"500"``/``"502"``/``"503"`` are shortcuts.
        """
        fault = self._make_fault(kind, target, params)
        with self._lock:
            self._fault_queue.extend([fault] * count)

    def set_fault_probability(self, kind: str, probability: float, *, target: str = "api", **params: Any) -> None:
        """Each matching call gets this fault with *probability* (seeded by ``fault_seed``)."""
        fault = self._make_fault(kind, target, params)
        with self._lock:
            self._fault_rates.append((probability, fault))

    def clear_faults(self) -> None:
        with self._lock:
            self._fault_queue.clear()
            self._fault_rates.clear()

    @staticmethod
    def _make_fault(kind: str, target: str, params: dict[str, Any]) -> Fault:
        if kind.isdigit():
            params = {**params, "status": int(kind)}
            kind = "http_error"
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {FAULT_KINDS}")
        if target not in ("api", "token", "any"):
            raise ValueError("target must be api, token or any")
        return Fault(kind=kind, target=target, **params)

    def _take_fault(self, kind: str, method: str | None = None) -> Fault | None:
        with self._lock:
            for i, f in enumerate(self._fault_queue):
                if f.target in (kind, "any") and (f.method is None or f.method == method):
                    del self._fault_queue[i]
                    return f
            for p, f in self._fault_rates:
                if (
                    f.target in (kind, "any")
                    and (f.method is None or f.method == method)
                    and self._fault_rng.random() < p
                ):
                    return f
        return None

    # -- recording -------------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._rec_lock:
            return list(self._records)

    def count(self, kind: str | None = None, **match: Any) -> int:
        """Number of recorded requests of *kind* whose attributes equal *match* (e.g. status=429)."""
        return sum(
            1
            for r in self.requests
            if (kind is None or r.kind == kind) and all(getattr(r, k) == v for k, v in match.items())
        )

    def clear_requests(self) -> None:
        with self._rec_lock:
            self._records.clear()

    # -- HTTP ----------------------------------------------------------------------------
    def _handle(self, req: Request) -> Response:
        started = time.monotonic()
        rec = RecordedRequest(0, time.time(), "other", req.method, req.host, req.path, req.query, sni=req.sni)
        try:
            if req.host in LOGIN_HOSTS:
                resp = self._login(req, rec)
            elif req.host in API_HOSTS:
                resp = self._api(req, rec)
            elif req.host in GRAPH_HOSTS:
                resp = self._graph(req, rec)
            else:
                resp = _api_error(404, "ResourceNotFound", f"Unknown host '{req.host}' (stand-in)")
                rec.error = "unknown-host"
        except Exception as e:  # a stand-in bug must show up as a 500, not a hang
            resp = _api_error(500, "InternalServerError", f"stand-in error: {e!r}")
            rec.error = f"standin-bug: {e!r}"
        rec.status = resp.status
        rec.body_bytes = resp.body_len()
        rec.duration = time.monotonic() - started
        with self._rec_lock:
            rec.seq = len(self._records) + 1
            self._records.append(rec)
        return resp

    # ---- Entra ID ----
    def _login(self, req: Request, rec: RecordedRequest) -> Response:
        parts = [unquote(p) for p in req.path.split("/") if p]
        if req.method == "GET" and parts[:3] == ["common", "discovery", "instance"]:
            rec.kind = "instance_discovery"
            return self._instance_discovery(req)
        if req.method == "GET" and len(parts) == 4 and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            rec.kind = "oidc"
            rec.tenant = parts[0]
            return self._oidc(req, parts[0], rec)
        if len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "token"]:
            rec.kind = "token"
            rec.tenant = parts[0]
            if req.method != "POST":
                return _aad_error(
                    req.host, 405, "invalid_request", 900561, "The endpoint only accepts POST requests.", rec
                )
            fault = self._take_fault("token")
            if fault is not None and fault.kind not in ("slow", "truncate"):
                rec.fault = fault.kind
                return _fault_response(fault, token=True)
            resp = self._token(req, parts[0], rec)
            if fault is not None:
                rec.fault = fault.kind
                _apply_soft_fault(resp, fault)
            return resp
        return _aad_error(req.host, 404, "invalid_request", 900000, f"Not found: {req.path} (stand-in)", rec)

    def _instance_discovery(self, req: Request) -> Response:
        auth = req.params.get("authorization_endpoint", "")
        m = re.match(r"https://([^/]+)/([^/]+)/", auth)
        host, tenant = (m.group(1), m.group(2)) if m else (LOGIN_COMMERCIAL, "common")
        body = {
            "tenant_discovery_endpoint": f"https://{host}/{tenant}/v2.0/.well-known/openid-configuration",
            "api-version": req.params.get("api-version", "1.1"),
            "metadata": [
                {
                    "preferred_network": LOGIN_COMMERCIAL,
                    "preferred_cache": "login.windows.net",
                    "aliases": [LOGIN_COMMERCIAL, "login.windows.net", "login.microsoft.com", "sts.windows.net"],
                },
                {
                    "preferred_network": LOGIN_GOV,
                    "preferred_cache": LOGIN_GOV,
                    "aliases": [LOGIN_GOV, "login.usgovcloudapi.net"],
                },
            ],
        }
        return _json(200, body, AAD_JSON_CT)

    def _oidc(self, req: Request, tenant_key: str, rec: RecordedRequest) -> Response:
        t = self._tenant(tenant_key)
        if t is None:
            return _aad_error(req.host, 400, "invalid_tenant", 90002, _tenant_not_found(tenant_key), rec)
        h, tid = req.host, t.tenant_id
        # A tenant of the other cloud still gets a document (naming its real cloud);
        # the token request then fails with AADSTS90038 (stand-in's modelling choice).
        true_cloud = "microsoftonline.us" if t.login_host == LOGIN_GOV else "microsoftonline.com"
        body = {
            "token_endpoint": f"https://{h}/{tid}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"https://{h}/{tid}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"https://{t.login_host}/{tid}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
            "authorization_endpoint": f"https://{h}/{tid}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"https://{h}/{tid}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"https://{h}/{tid}/oauth2/v2.0/logout",
            "kerberos_endpoint": f"https://{h}/{tid}/kerberos",
            "tenant_region_scope": {"commercial": "NA", "gcc": "NA"}.get(t.cloud, "USGov"),
            "cloud_instance_name": true_cloud,
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }
        return _json(200, body, AAD_JSON_CT)

    def _token(self, req: Request, tenant_key: str, rec: RecordedRequest) -> Response:
        host = req.host
        t = self._tenant(tenant_key)
        if t is None:
            return _aad_error(host, 400, "invalid_request", 90002, _tenant_not_found(tenant_key), rec)
        if t.login_host != host:
            return _aad_error(
                host,
                400,
                "invalid_request",
                90038,
                f"NationalCloudTenantRedirection: The specified tenant '{tenant_key}' belongs to the National Cloud "
                f"'{'USGov' if t.login_host == LOGIN_GOV else 'WorldWide'}'. Current cloud instance "
                f"'{'WorldWide' if host == LOGIN_COMMERCIAL else 'USGov'}' does not federate with it. "
                f"Use https://{t.login_host}/{tenant_key}.",
                rec,
            )
        form: dict[str, str] = {}
        for k, v in req.form():
            form.setdefault(k, v)
        grant = form.get("grant_type")
        if grant != "client_credentials":
            return _aad_error(
                host,
                400,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{grant}'.",
                rec,
            )
        client_id = (form.get("client_id") or "").lower()
        rec.client_id = client_id or None
        if not client_id:
            return _aad_error(
                host,
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'client_id'.",
                rec,
            )
        scope = form.get("scope", "")
        rec.scope = scope
        if form.get("client_assertion"):
            try:
                alg = json.loads(_b64url_decode(form["client_assertion"].split(".")[0])).get("alg")
            except ValueError:
                alg = "?"
            rec.credential = f"assertion:{alg}"
        elif form.get("client_secret"):
            rec.credential = "secret"
        scopes = [s for s in scope.split() if s.lower() not in _RESERVED_SCOPES]
        if not scopes:
            return _aad_error(
                host,
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'scope'.",
                rec,
            )
        if len(scopes) > 1:
            return _aad_error(
                host,
                400,
                "invalid_scope",
                70011,
                "The provided request must include a 'scope' input parameter. The provided value for the input "
                f"parameter 'scope' is not valid. The scope {scope} is not valid.",
                rec,
            )
        if not scopes[0].endswith("/.default"):
            return _aad_error(
                host,
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {scopes[0]} is not valid. Client credential flows must have a scope "
                "value with /.default suffixed to the resource identifier (application ID URI).",
                rec,
            )
        resource = scopes[0][: -len("/.default")].rstrip("/")
        app = t.apps.get(client_id)
        if app is None:
            return _aad_error(
                host,
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory '{t.display}'. This can "
                "happen if the application has not been installed by the administrator of the tenant or consented to "
                "by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
                rec,
            )
        assertion = form.get("client_assertion")
        secret = form.get("client_secret")
        if assertion:
            if form.get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
                return _aad_error(
                    host, 400, "invalid_request", 700009, "Client assertion type is not valid or is missing.", rec
                )
            bad = self._check_assertion(assertion, app, t, host)
            if bad is not None:
                return _aad_error(host, 401, "invalid_client", bad[0], bad[1], rec)
        elif secret:
            if app.secret is None or not secrets.compare_digest(secret, app.secret):
                return _aad_error(
                    host,
                    401,
                    "invalid_client",
                    7000215,
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
                    f"value, not the client secret ID, for a secret added to app '{app.client_id}'.",
                    rec,
                )
            if app.secret_expired:
                return _aad_error(
                    host,
                    401,
                    "invalid_client",
                    7000222,
                    f"The provided client secret keys for app '{app.client_id}' are expired. Visit the Azure portal to "
                    "create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate "
                    "credentials for added security: https://aka.ms/certCreds.",
                    rec,
                )
        else:
            return _aad_error(
                host,
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
                rec,
            )
        known = {r.lower() for r in LOGIN_RESOURCES[host] + GRAPH_RESOURCES[host]}
        if resource.lower() not in known or not app.consented:
            return _aad_error(
                host,
                400,
                "invalid_resource",
                500011,
                f"The resource principal named {resource} was not found in the tenant named {t.display}. This can "
                "happen if the application has not been installed by the administrator of the tenant or consented to "
                "by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
                rec,
            )
        token = secrets.token_urlsafe(48)
        with self._lock:
            self.tokens[token] = TokenInfo(
                t.tenant_id, app.client_id, app.roles, self.clock() + self.token_lifetime, host, resource.lower()
            )
        body = {
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "ext_expires_in": self.token_lifetime,
            "access_token": token,
        }
        resp = _json(200, body, AAD_JSON_CT)
        resp.headers.append(("Cache-Control", "no-store, no-cache"))
        return resp

    def _check_assertion(self, assertion: str, app: App, t: Tenant, host: str) -> tuple[int, str] | None:
        pieces = assertion.split(".")
        if len(pieces) != 3:
            return 50027, "JWT token is invalid or malformed."
        try:
            header = json.loads(_b64url_decode(pieces[0]))
            claims = json.loads(_b64url_decode(pieces[1]))
            signature = _b64url_decode(pieces[2])
        except (ValueError, UnicodeDecodeError):
            return 50027, "JWT token is invalid or malformed."
        alg = header.get("alg")
        cert: AppCert | None = None
        try:
            if header.get("x5t#S256"):
                fp = _b64url_decode(header["x5t#S256"])
                cert = next((c for c in app.certs if c.sha256 == fp), None)
            elif header.get("x5t"):
                fp = _b64url_decode(header["x5t"])
                cert = next((c for c in app.certs if c.sha1 == fp), None)
            else:
                return (
                    700027,
                    "Client assertion failed signature validation. [Reason - The key was not found (no x5t).]",
                )
        except ValueError:
            return 50027, "JWT token is invalid or malformed."
        if cert is None:
            return (
                700027,
                "The certificate with identifier used to sign the client assertion is not registered on application. "
                f"[Reason - The key was not found., Thumbprint of key used by client: '{fp.hex().upper()}']",
            )
        signed = (pieces[0] + "." + pieces[1]).encode("ascii")
        key = cert.public_key
        if not isinstance(key, rsa.RSAPublicKey):
            return 700027, "Client assertion failed signature validation. [Reason - unsupported key type.]"
        try:
            if alg == "RS256":
                key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
            elif alg == "PS256":
                key.verify(
                    signature,
                    signed,
                    padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH),
                    hashes.SHA256(),
                )
            else:
                return 700027, f"Client assertion failed signature validation. [Reason - alg '{alg}' not accepted.]"
        except InvalidSignature:
            return 700027, "Client assertion failed signature validation."
        if (
            claims.get("iss", "").lower() != app.client_id.lower()
            or claims.get("sub", "").lower() != app.client_id.lower()
        ):
            return 700021, "Client assertion application identifier doesn't match 'client_id' parameter."
        names = {t.tenant_id} | ({t.domain} if t.domain else set())
        auds = {f"https://{host}/{n}/oauth2/v2.0/token" for n in names} | {
            f"https://{host}/{n}/oauth2/token" for n in names
        }
        auds |= {f"https://{host}/{t.tenant_id}/v2.0"}
        aud = claims.get("aud")
        aud_list = aud if isinstance(aud, list) else [aud]
        if not any(isinstance(a, str) and a.lower() in auds for a in aud_list):
            return 700023, f"Client assertion audience claim does not match Realm issuer. (aud was {aud!r})"
        now = time.time()  # the client signed with its real clock
        skew = 300
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if (
            not isinstance(exp, (int, float))
            or exp < now - skew
            or (isinstance(nbf, (int, float)) and nbf > now + skew)
        ):
            return 700024, "Client assertion is not within its valid time range."
        return None

    # ---- Defender API ----
    def _api(self, req: Request, rec: RecordedRequest) -> Response:
        rec.kind = "api"
        fault = self._take_fault("api", req.method)
        if fault is not None and fault.kind not in ("slow", "truncate"):
            rec.fault = fault.kind
            return _fault_response(fault, token=False)
        resp = self._api_inner(req, rec)
        if fault is not None:
            rec.fault = fault.kind
            _apply_soft_fault(resp, fault)
        return resp

    def _api_inner(self, req: Request, rec: RecordedRequest) -> Response:
        auth = req.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return _unauthorized(rec, "no bearer token")
        with self._lock:
            info = self.tokens.get(auth[len("Bearer ") :].strip())
        if info is None:
            return _unauthorized(rec, "unknown token")
        rec.tenant, rec.client_id = info.tenant_id, info.client_id
        if info.revoked:
            return _unauthorized(rec, "token revoked")
        now = self.clock()
        if now >= info.expires_at:
            return _unauthorized(rec, "token expired")
        host_gov = req.host == GOV_API_HOST
        token_gov = info.login_host == LOGIN_GOV
        if host_gov != token_gov:
            return _unauthorized(rec, "token audience is for another cloud")
        retry = self.limiter.check((info.tenant_id, info.client_id), now)
        if retry is not None:
            rec.error = "TooManyRequests"
            resp = _api_error(
                429,
                "TooManyRequests",
                f"API calls quota exceeded! Maximum admitted 100 per 1m. Retry in {retry} seconds.",
            )
            resp.headers.append(("Retry-After", str(retry)))
            return resp
        tenant = self.tenants[info.tenant_id]
        if not tenant.serves(req.host):
            rec.error = "ResourceNotFound"
            return _api_error(
                404,
                "ResourceNotFound",
                f"Tenant {tenant.tenant_id} is not served by {req.host} (stand-in geo routing: use the global or the "
                "tenant's own geo/government host).",
            )
        if info.resource not in {r.lower() for r in LOGIN_RESOURCES[info.login_host]}:
            return _unauthorized(rec, "token audience is not Defender (a Graph token?)")
        response_answer = self._response_route(req, tenant, info.roles, req.path.rstrip("/"))
        if response_answer is not None:
            if response_answer.status >= 400:
                rec.error = json.loads(response_answer.body).get("error", {}).get("code")
            return response_answer
        if not any(r in info.roles for r in READ_ROLES):
            rec.error = "Forbidden"
            return _api_error(
                403,
                "Forbidden",
                "The application does not have any of the required application roles "
                "(Alert.ReadWrite.All, Alert.Read.All) to access the resource.",
            )
        if req.method != "GET":
            return _api_error(405, "MethodNotAllowed", f"{req.method} is not supported by this stand-in")
        path = req.path.rstrip("/")
        if path.lower() == "/api/alerts":
            return self._list_alerts(req, tenant, now, rec)
        m = re.fullmatch(r"/api/alerts/([^/]+)", path, flags=re.IGNORECASE)
        if m:
            return self._get_alert(req, tenant, unquote(m.group(1)), now, rec)
        rec.error = "ResourceNotFound"
        return _api_error(404, "ResourceNotFound", f"No route for {req.path} in this stand-in")

    # ---- Microsoft Graph (users: microsoft_response.py) ----
    def _graph(self, req: Request, rec: RecordedRequest) -> Response:
        rec.kind = "graph"
        auth = req.headers.get("authorization", "")
        with self._lock:
            info = self.tokens.get(auth[len("Bearer ") :].strip()) if auth.startswith("Bearer ") else None
        if info is not None:
            rec.tenant, rec.client_id = info.tenant_id, info.client_id
            if info.revoked or self.clock() >= info.expires_at:
                info = None
        resp = self._graph_route(req, info)
        if resp.status >= 400:
            rec.error = json.loads(resp.body).get("error", {}).get("code")
        return resp

    def _get_alert(self, req: Request, tenant: Tenant, alert_id: str, now: float, rec: RecordedRequest) -> Response:
        store = tenant.store
        store.promote(now)
        expand = req.params.get("$expand", "") == "evidence"
        with store.lock:
            st = store.visible.get(alert_id)
            if st is None:
                rec.error = "NotFound"
                return _api_error(404, "NotFound", f"Alert {alert_id} was not found")
            body = (
                b'{"@odata.context":"https://'
                + req.host.encode()
                + b'/api/$metadata#Alerts/$entity",'
                + st.head[1:]
                + (st.ev if expand else b"[]")
                + st.tail
            )
        rec.alerts = 1
        return Response(200, body, [("Content-Type", JSON_CT)])

    def _list_alerts(self, req: Request, tenant: Tenant, now: float, rec: RecordedRequest) -> Response:
        params: dict[str, str] = {}
        for k, v in req.param_list:
            if k.startswith("$"):
                if k in params:
                    return _bad(rec, f"Query option '{k}' was specified more than once")
                params[k] = v
        unknown = set(params) - {"$filter", "$orderby", "$top", "$skip", "$expand"}
        if unknown:
            return _bad(rec, f"The query parameter '{sorted(unknown)[0]}' is not supported")
        try:
            preds = parse_filter(params["$filter"]) if params.get("$filter", "").strip() else []
            order = parse_orderby(params["$orderby"]) if params.get("$orderby", "").strip() else []
        except ODataError as e:
            return _bad(rec, str(e))
        if self.ignore_orderby:
            order = []  # accepted, then ignored: answers come in storage order
        try:
            top = int(params["$top"]) if "$top" in params else None
            skip = int(params.get("$skip", "0") or "0")
        except ValueError:
            return _bad(rec, "Invalid value for $top or $skip")
        if top is not None and top < 0 or skip < 0:
            return _bad(rec, "$top and $skip must not be negative")
        if top is not None and top > self.max_top:
            return _bad(
                rec,
                f"The limit of '{self.max_top}' for Top query has been exceeded. The value from the incoming request "
                f"is '{top}'.",
            )
        expand = params.get("$expand")
        if expand is not None and expand != "evidence":
            return _bad(rec, f"Invalid $expand: only 'evidence' can be expanded (got '{expand}')")
        limit = self.default_page_size if top is None else top

        store = tenant.store
        store.promote(now)
        lo, hi = -(2**62), 2**62
        residual: list[Predicate] = []
        for p in preds:
            if p.field == "lastUpdateTime" and p.op != "ne":
                ticks = int(p.value)  # datetime literals are ticks
                if p.op == "ge":
                    lo = max(lo, ticks)
                elif p.op == "gt":
                    lo = max(lo, ticks + 1)
                elif p.op == "le":
                    hi = min(hi, ticks + 1)
                elif p.op == "lt":
                    hi = min(hi, ticks)
                else:  # eq
                    lo, hi = max(lo, ticks), min(hi, ticks + 1)
            else:
                residual.append(p)
        if self.retention_days is not None:
            lo = max(lo, ticks_from_epoch(now - self.retention_days * 86400))

        with store.lock:
            keys = store.keys
            i0 = bisect.bisect_left(keys, (lo,))
            i1 = max(i0, bisect.bisect_left(keys, (hi,)))
            visible = store.visible
            fast = not residual and (
                not order or order == [("lastUpdateTime", False)] or order == [("lastUpdateTime", True)]
            )
            if fast and order:
                n_match = i1 - i0
                if order[0][1]:  # desc: walk from the end
                    a = max(i0, i1 - skip - limit)
                    b = max(i0, i1 - skip)
                    chosen = [visible[k[1]] for k in reversed(keys[a:b])]
                else:
                    a = min(i1, i0 + skip)
                    b = min(i1, a + limit)
                    chosen = [visible[k[1]] for k in keys[a:b]]
            else:
                cands = [visible[k[1]] for k in keys[i0:i1]]
                if residual:
                    cands = [s for s in cands if all(_match(s, p) for p in residual)]
                n_match = len(cands)
                if not order and self.ignore_orderby:
                    cands.sort(key=_storage_rank)
                elif not order:
                    cands.sort(key=lambda s: s.alert_id)
                elif order != [("lastUpdateTime", False)]:
                    for name, desc in reversed(order + [("id", order[0][1])]):
                        cands.sort(key=_sort_key(name), reverse=desc)
                chosen = cands[skip : skip + limit]
            parts: list[bytes] = []
            ev_ok = expand == "evidence"
            for s in chosen:
                parts += (s.head, s.ev if ev_ok else b"[]", s.tail, b",")
        if parts:
            parts.pop()
        more = skip + len(chosen) < n_match
        prefix = b'{"@odata.context":"https://' + req.host.encode() + b'/api/$metadata#Alerts",'
        if self.emit_next_link and more and limit > 0:
            q = {k: v for k, v in params.items() if k not in ("$skip", "$top")}
            q["$top"] = str(limit)
            q["$skip"] = str(skip + len(chosen))
            link = f"https://{req.host}/api/alerts?" + urlencode(q, quote_via=quote, safe="$,:")
            prefix += b'"@odata.nextLink":' + json.dumps(link).encode() + b","
        body = b"".join([prefix, b'"value":[', *parts, b"]}"])
        rec.alerts = len(chosen)
        return Response(200, body, [("Content-Type", JSON_CT)])


def _sort_key(name: str) -> Callable[[_State], Any]:
    if name == "id":
        return lambda s: s.alert_id
    if name == "lastUpdateTime":
        return lambda s: s.lut
    # alerts without the field sort first, as nulls do in OData ascending order
    return lambda s: (s.act is not None, s.act or 0)


# --------------------------------------------------------------------------------------
# Response helpers
# --------------------------------------------------------------------------------------
def _json(status: int, body: Any, content_type: str = JSON_CT) -> Response:
    return Response(status, json.dumps(body).encode("utf-8"), [("Content-Type", content_type)])


def _api_error(status: int, code: str, message: str) -> Response:
    return _json(status, {"error": {"code": code, "message": message, "target": _uuid()}})


def _bad(rec: RecordedRequest, message: str) -> Response:
    rec.error = "InvalidRequest"
    return _api_error(400, "InvalidRequest", message)


def _unauthorized(rec: RecordedRequest, reason: str) -> Response:
    rec.error = f"Unauthorized: {reason}"
    resp = _api_error(401, "Unauthorized", "Unauthorized")
    # Not a Microsoft header: tells a test author why the stand-in said 401.
    resp.headers.append(("X-Standin-Reason", reason))
    resp.headers.append(("WWW-Authenticate", 'Bearer error="invalid_token"'))
    return resp


def _tenant_not_found(tenant: str) -> str:
    return (
        f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the "
        "correct cloud. Check with your subscription administrator, this may happen if there are no active "
        "subscriptions for the tenant."
    )


def _aad_error(host: str, status: int, error: str, code: int, description: str, rec: RecordedRequest) -> Response:
    ts = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    trace, corr = _uuid(), _uuid()
    rec.error = f"AADSTS{code}"
    body = {
        "error": error,
        "error_description": f"AADSTS{code}: {description} Trace ID: {trace} Correlation ID: {corr} Timestamp: {ts}",
        "error_codes": [code],
        "timestamp": ts,
        "trace_id": trace,
        "correlation_id": corr,
        "error_uri": f"https://{host}/error?code={code}",
    }
    resp = _json(status, body, AAD_JSON_CT)
    resp.headers.append(("Cache-Control", "no-store, no-cache"))
    return resp


def _fault_response(fault: Fault, *, token: bool) -> Response:
    if fault.kind == "reset":
        return Response(0, reset=True)
    if fault.kind == "http_error":
        if token:
            return _json(
                fault.status,
                {
                    "error": "temporarily_unavailable",
                    "error_description": "AADSTS90033: A transient error has occurred. Please try again.",
                    "error_codes": [90033],
                },
                AAD_JSON_CT,
            )
        return _api_error(fault.status, _STATUS_CODES.get(fault.status, "ServerError"), "An unexpected error occurred")
    if fault.kind == "html":
        html = b"<!DOCTYPE html><html><head><title>Service Unavailable</title></head><body><h1>Sorry</h1></body></html>"
        return Response(200, html, [("Content-Type", "text/html; charset=utf-8")])
    if fault.kind == "no_value":
        return _json(200, {"@odata.context": "https://api.security.microsoft.com/api/$metadata#Alerts"})
    if fault.kind == "throttle":
        resp = _api_error(429, "TooManyRequests", f"API calls quota exceeded! Retry in {fault.retry_after} seconds.")
        resp.headers.append(("Retry-After", str(fault.retry_after)))
        return resp
    raise AssertionError(fault.kind)


def _apply_soft_fault(resp: Response, fault: Fault) -> None:
    if fault.kind == "slow":
        resp.delay = fault.delay
    elif fault.kind == "truncate":
        resp.truncate_to = max(0, resp.body_len() // 2)


# --------------------------------------------------------------------------------------
# Standalone
# --------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """Run only the Microsoft stand-in (same options as ``python -m tests.standins.launcher``)."""
    import sys

    from .launcher import main as launcher_main

    args = list(sys.argv[1:] if argv is None else argv)
    return launcher_main(["--no-splunkd", *args])


if __name__ == "__main__":
    raise SystemExit(main())
