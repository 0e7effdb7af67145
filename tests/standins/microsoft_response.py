"""The response side of the Microsoft stand-in: Defender's machines and machine actions, alert
updates, and Microsoft Graph's users (FACTS.md section 9).

Why a separate file: the alerts API and Entra ID already fill `microsoft.py`; this mixin adds
what the response actions call, with the behaviour that trips real integrations:

* ``GET /api/machines`` with ``computerDnsName eq '..'`` or ``startswith(computerDnsName,'..')``,
  and ``GET /api/machines/{id}`` (404 for a device of another tenant);
* ``POST /api/machines/{id}/<action>`` answers 201 with a MachineAction that moves from Pending to
  InProgress to its final status over ``action_timing`` seconds of real time (Succeeded, or what
  :meth:`ResponseStandin.fail_next_action` asked for); a repeat of a type still open answers
  400 "Action is already in progress";
* ``GET /api/machineactions`` with ``machineId``/``type``/``status`` ``eq`` filters, and by id;
* ``PATCH /api/alerts/{id}`` gives the alert a new state and a new ``lastUpdateTime``, so the
  input collects it again;
* Graph ``GET/PATCH /v1.0/users/{id|UPN}``, the ``onPremisesSamAccountName`` advanced query
  (``ConsistencyLevel: eventual`` and ``$count=true`` required, else 400), and
  ``POST .../revokeSignInSessions``; Graph tokens only for Graph (``<host>/.default``), Defender
  tokens only for Defender;
* every route checks the token's application roles and answers 403 naming the ones it needs.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote

from ._server import Request, Response

GRAPH_COMMERCIAL = "graph.microsoft.com"
GRAPH_HOSTS = (GRAPH_COMMERCIAL, "graph.microsoft.us", "dod-graph.microsoft.us")
GRAPH_RESOURCES = {
    "login.microsoftonline.com": ("https://graph.microsoft.com",),
    "login.microsoftonline.us": ("https://graph.microsoft.us", "https://dod-graph.microsoft.us"),
}
ACTION_PATHS = {
    "isolate": "Isolate",
    "unisolate": "Unisolate",
    "runantivirusscan": "RunAntiVirusScan",
    "restrictcodeexecution": "RestrictCodeExecution",
    "unrestrictcodeexecution": "UnrestrictCodeExecution",
    "collectinvestigationpackage": "CollectInvestigationPackage",
}
ACTION_ROLES = {
    "Isolate": ("Machine.Isolate",),
    "Unisolate": ("Machine.Isolate",),
    "RunAntiVirusScan": ("Machine.Scan",),
    "RestrictCodeExecution": ("Machine.RestrictExecution",),
    "UnrestrictCodeExecution": ("Machine.RestrictExecution",),
    "CollectInvestigationPackage": ("Machine.CollectForensics",),
}
MACHINE_READ_ROLES = ("Machine.Read.All", "Machine.ReadWrite.All")
ALERT_WRITE_ROLES = ("Alert.ReadWrite.All",)
ALERT_FIELDS = {
    "status": ("New", "InProgress", "Resolved"),
    "classification": ("TruePositive", "InformationalExpectedActivity", "FalsePositive"),
    "determination": None,
    "assignedTo": None,
    "comment": None,
}
JSON_CT = "application/json; odata.metadata=minimal; charset=utf-8"


def _now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json(status: int, body: Any) -> Response:
    return Response(status, json.dumps(body).encode("utf-8"), [("Content-Type", JSON_CT)])


def _error(status: int, code: str, message: str) -> Response:
    return _json(status, {"error": {"code": code, "message": message, "target": str(uuid.uuid4())}})


def _forbidden(roles: tuple[str, ...]) -> Response:
    return _error(
        403,
        "Forbidden",
        f"The application does not have any of the required application roles ({', '.join(roles)}) "
        "to access the resource.",
    )


def _graph_forbidden() -> Response:
    return _error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")


@dataclass
class MachineAction:
    id: str
    type: str
    machine_id: str
    computer_name: str
    comment: str
    requestor: str
    created: float  # monotonic
    created_iso: str
    outcome: str  # the final status it will reach
    timing: tuple[float, float]
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        age = time.monotonic() - self.created
        if age < self.timing[0]:
            return "Pending"
        if age < self.timing[1]:
            return "InProgress"
        return self.outcome

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "scope": self.params.get("IsolationType") or self.params.get("ScanType"),
            "requestor": self.requestor,
            "requestorComment": self.comment,
            "status": self.status,
            "machineId": self.machine_id,
            "computerDnsName": self.computer_name,
            "creationDateTimeUtc": self.created_iso,
            "lastUpdateDateTimeUtc": _now_iso(),
        }


class ResponseStandin:
    """Mixed into MicrosoftStandin: seeding helpers and the response routes."""

    tenants: dict[str, Any]
    action_timing: tuple[float, float] = (1.0, 2.0)
    list_lag: bool = False  # True: GET /api/machineactions lists nothing (not caught up yet)
    _fail_next: dict[str, list[str]]
    _resp_lock: threading.Lock

    def _init_response(self, action_timing: tuple[float, float]) -> None:
        self.action_timing = action_timing
        self._fail_next = {}
        self._resp_lock = threading.Lock()

    # -- seeding ---------------------------------------------------------------------------
    def add_machine(self, tenant_id: str, name: str, machine_id: str | None = None, **extra: Any) -> dict[str, Any]:
        machine = {
            "id": machine_id or uuid.uuid4().hex + uuid.uuid4().hex[:8],
            "computerDnsName": name.lower(),
            "osPlatform": "Windows11",
            "healthStatus": "Active",
            "aadDeviceId": str(uuid.uuid4()),
            **extra,
        }
        self.tenants[tenant_id.lower()].machines[machine["id"]] = machine
        return machine

    def add_user(self, tenant_id: str, upn: str, *, sam: str | None = None, enabled: bool = True) -> dict[str, Any]:
        user = {
            "id": str(uuid.uuid4()),
            "userPrincipalName": upn,
            "displayName": upn.split("@")[0],
            "accountEnabled": enabled,
            "onPremisesSamAccountName": sam,
            "_revoked": 0,
        }
        self.tenants[tenant_id.lower()].users[user["id"]] = user
        return user

    def fail_next_action(self, machine_id: str, status: str = "Failed") -> None:
        """The next action posted for this device ends in `status` (Failed, Cancelled, TimeOut)."""
        with self._resp_lock:
            self._fail_next.setdefault(machine_id, []).append(status)

    def machine_actions(self, tenant_id: str) -> list[dict[str, Any]]:
        return [a.to_dict() for a in self.tenants[tenant_id.lower()].machine_actions.values()]

    # -- Defender routes -------------------------------------------------------------------
    def _response_route(self, req: Request, tenant: Any, roles: tuple[str, ...], path: str) -> Response | None:
        """The response routes of the Defender API, or None for a path they do not own."""
        parts = [unquote(p) for p in path.split("/") if p]
        lowered = [p.lower() for p in parts]
        if lowered[:2] == ["api", "machines"]:
            if not any(r in roles for r in MACHINE_READ_ROLES + tuple(r for rs in ACTION_ROLES.values() for r in rs)):
                return _forbidden(MACHINE_READ_ROLES)
            if len(parts) == 2 and req.method == "GET":
                return self._list_machines(req, tenant, roles)
            if len(parts) == 3 and req.method == "GET":
                if not any(r in roles for r in MACHINE_READ_ROLES):
                    return _forbidden(MACHINE_READ_ROLES)
                machine = tenant.machines.get(parts[2])
                if machine is None:
                    return _error(404, "ResourceNotFound", f"Machine {parts[2]} was not found")
                return _json(200, machine)
            if len(parts) == 4 and req.method == "POST" and lowered[3] in ACTION_PATHS:
                return self._post_action(req, tenant, roles, parts[2], ACTION_PATHS[lowered[3]])
        if lowered[:2] == ["api", "machineactions"] and req.method == "GET":
            if not any(r in roles for r in MACHINE_READ_ROLES):
                return _forbidden(MACHINE_READ_ROLES)
            if len(parts) == 2:
                return self._list_actions(req, tenant)
            if len(parts) == 3:
                action = tenant.machine_actions.get(parts[2])
                if action is None:
                    return _error(404, "ResourceNotFound", f"Machine action {parts[2]} was not found")
                return _json(200, action.to_dict())
        if lowered[:2] == ["api", "alerts"] and len(parts) == 3 and req.method == "PATCH":
            if not any(r in roles for r in ALERT_WRITE_ROLES):
                return _forbidden(ALERT_WRITE_ROLES)
            return self._patch_alert(req, tenant, parts[2])
        return None

    def _list_machines(self, req: Request, tenant: Any, roles: tuple[str, ...]) -> Response:
        if not any(r in roles for r in MACHINE_READ_ROLES):
            return _forbidden(MACHINE_READ_ROLES)
        odata = req.params.get("$filter", "")
        eq = re.fullmatch(r"\s*computerDnsName eq '((?:[^']|'')*)'\s*", odata)
        starts = re.fullmatch(r"\s*startswith\(computerDnsName,\s*'((?:[^']|'')*)'\)\s*", odata)
        if odata and not (eq or starts):
            return _error(400, "InvalidRequest", f"Invalid filter (stand-in supports computerDnsName): {odata}")
        machines = list(tenant.machines.values())
        if eq:
            wanted = eq.group(1).replace("''", "'").lower()
            machines = [m for m in machines if m["computerDnsName"] == wanted]
        elif starts:
            prefix = starts.group(1).replace("''", "'").lower()
            machines = [m for m in machines if m["computerDnsName"].startswith(prefix)]
        return _json(
            200, {"@odata.context": "https://api.security.microsoft.com/api/$metadata#Machines", "value": machines}
        )

    def _post_action(self, req: Request, tenant: Any, roles: tuple[str, ...], machine_id: str, kind: str) -> Response:
        needed = ACTION_ROLES[kind]
        if not any(r in roles for r in needed):
            return _forbidden(needed)
        machine = tenant.machines.get(machine_id)
        if machine is None:
            return _error(404, "ResourceNotFound", f"Machine {machine_id} was not found")
        try:
            body = json.loads(req.body or b"{}")
        except ValueError:
            return _error(400, "InvalidRequestBody", "Request body is not JSON")
        if not isinstance(body, dict) or not str(body.get("Comment") or "").strip():
            return _error(400, "InvalidRequestBody", "Comment is required")
        if kind == "Isolate" and body.get("IsolationType", "Full") not in ("Full", "Selective", "UnManagedDevice"):
            return _error(400, "InvalidRequestBody", f"Invalid IsolationType {body.get('IsolationType')!r}")
        if kind == "RunAntiVirusScan" and body.get("ScanType") not in ("Quick", "Full"):
            return _error(400, "InvalidRequestBody", "ScanType must be Quick or Full")
        with self._resp_lock:
            for action in tenant.machine_actions.values():
                if (
                    action.machine_id == machine_id
                    and action.type == kind
                    and action.status in ("Pending", "InProgress")
                ):
                    return _error(400, "ActiveRequestAlreadyExists", "Action is already in progress")
            queued = self._fail_next.get(machine_id) or []
            outcome = queued.pop(0) if queued else "Succeeded"
            action = MachineAction(
                str(uuid.uuid4()),
                kind,
                machine_id,
                machine["computerDnsName"],
                str(body["Comment"]),
                "standin-app",
                time.monotonic(),
                _now_iso(),
                outcome,
                self.action_timing,
                {k: v for k, v in body.items() if k != "Comment"},
            )
            tenant.machine_actions[action.id] = action
        return _json(201, action.to_dict())

    def _list_actions(self, req: Request, tenant: Any) -> Response:
        if self.list_lag:  # the list has not caught up with a new action yet
            return _json(200, {"value": []})
        odata = req.params.get("$filter", "")
        wanted: dict[str, str] = {}
        for clause in [c for c in re.split(r"\s+and\s+", odata.strip()) if c]:
            m = re.fullmatch(r"(machineId|type|status|id) eq '((?:[^']|'')*)'", clause.strip())
            if not m:
                return _error(400, "InvalidRequest", f"Invalid filter clause (stand-in): {clause}")
            wanted[m.group(1)] = m.group(2).replace("''", "'")
        found = []
        for action in tenant.machine_actions.values():
            record = action.to_dict()
            if all(str(record.get(k)) == v for k, v in wanted.items()):
                found.append(record)
        return _json(200, {"value": found})

    def _patch_alert(self, req: Request, tenant: Any, alert_id: str) -> Response:
        try:
            body = json.loads(req.body or b"{}")
        except ValueError:
            return _error(400, "InvalidRequestBody", "Request body is not JSON")
        if not isinstance(body, dict) or not body:
            return _error(400, "InvalidRequestBody", "Nothing to update")
        for key, value in body.items():
            if key not in ALERT_FIELDS:
                return _error(400, "InvalidRequestBody", f"Unknown property {key!r}")
            allowed = ALERT_FIELDS[key]
            if allowed is not None and value not in allowed:
                return _error(400, "InvalidRequestBody", f"Invalid value {value!r} for {key}")
        with tenant.store.lock:
            known = alert_id in tenant.store.latest
        if not known:
            return _error(404, "NotFound", f"Alert {alert_id} was not found")
        changes = {k: v for k, v in body.items() if k != "comment"}
        if "comment" in body:
            with tenant.store.lock:
                comments = list(tenant.store.latest[alert_id].to_dict(evidence=False).get("comments") or [])
            comments.append({"comment": body["comment"], "createdBy": "standin-app", "createdTime": _now_iso()})
            changes["comments"] = comments
        updated: dict[str, Any] = self.update_alert(tenant.tenant_id, alert_id, changes)  # type: ignore[attr-defined]
        return _json(200, updated)

    # -- Graph -----------------------------------------------------------------------------
    def _graph_route(self, req: Request, info: Any) -> Response:
        if info is None:
            return _error(401, "InvalidAuthenticationToken", "Access token is empty or unknown.")
        if info.resource != f"https://{req.host}":
            return _error(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
        tenant = self.tenants[info.tenant_id]
        roles = info.roles
        parts = [unquote(p) for p in req.path.split("/") if p]
        if parts[:2] != ["v1.0", "users"]:
            return _error(404, "Request_ResourceNotFound", f"No route for {req.path} (stand-in)")
        read = ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All")
        if len(parts) == 2 and req.method == "GET":
            if not any(r in roles for r in read):
                return _graph_forbidden()
            odata = req.params.get("$filter", "")
            m = re.fullmatch(r"onPremisesSamAccountName eq '((?:[^']|'')*)'", odata.strip())
            if not m:
                return _error(400, "Request_UnsupportedQuery", f"Unsupported query (stand-in): {odata}")
            if req.headers.get("consistencylevel", "").lower() != "eventual" or req.params.get("$count") != "true":
                return _error(
                    400,
                    "Request_UnsupportedQuery",
                    "Unsupported or invalid query filter clause specified for property 'onPremisesSamAccountName'.",
                )
            name = m.group(1).replace("''", "'").lower()
            found = [_public(u) for u in tenant.users.values() if (u["onPremisesSamAccountName"] or "").lower() == name]
            return _json(200, {"@odata.count": len(found), "value": found})
        user = _find_user(tenant, parts[2]) if len(parts) >= 3 else None
        if len(parts) == 3 and req.method == "GET":
            if not any(r in roles for r in read):
                return _graph_forbidden()
            if user is None:
                return _error(404, "Request_ResourceNotFound", f"Resource '{parts[2]}' does not exist.")
            return _json(200, _public(user))
        if len(parts) == 3 and req.method == "PATCH":
            can = "User.ReadWrite.All" in roles or (
                "User.EnableDisableAccount.All" in roles and "User.Read.All" in roles
            )
            if not can:
                return _graph_forbidden()
            if user is None:
                return _error(404, "Request_ResourceNotFound", f"Resource '{parts[2]}' does not exist.")
            body = json.loads(req.body or b"{}")
            if set(body) != {"accountEnabled"} or not isinstance(body["accountEnabled"], bool):
                return _error(400, "Request_BadRequest", "Only accountEnabled (a boolean) is modelled")
            user["accountEnabled"] = body["accountEnabled"]
            return Response(204, b"", [])
        if len(parts) == 4 and parts[3] == "revokeSignInSessions" and req.method == "POST":
            if not any(r in roles for r in ("User.RevokeSessions.All", "User.ReadWrite.All")):
                return _graph_forbidden()
            if user is None:
                return _error(404, "Request_ResourceNotFound", f"Resource '{parts[2]}' does not exist.")
            user["_revoked"] += 1
            return _json(
                200, {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Edm.Boolean", "value": True}
            )
        return _error(405, "Request_BadRequest", f"{req.method} {req.path} is not modelled by the stand-in")


def _find_user(tenant: Any, key: str) -> dict[str, Any] | None:
    users: dict[str, dict[str, Any]] = tenant.users
    for user in users.values():
        if key.lower() in (str(user["id"]).lower(), str(user["userPrincipalName"]).lower()):
            return user
    return None


def _public(user: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in user.items() if not k.startswith("_")}
