"""What a response action does with its triggering results, decided without any I/O.

The alert actions (isolate a device, scan it, update an alert, disable a user, ...) all
share these rules, so they live here as pure functions that unit tests can drive:

* which targets a result names, whatever naming the search used (the raw alert's
  fields, CIM names, the data model's `Alerts.` names, or an explicit parameter);
* which account serves the result's tenant (never another tenant's);
* the cap on targets per invocation, the default comment, the parameters' checks;
* whether a pending machine action makes a new one a repeat;
* when to poll again, and the audit event of every attempt.

The calls to Microsoft are in `response_api`, the Splunk glue in `response_run`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

AUDIT_SOURCETYPE = "ms:defender:atp:action"
RESPONSE_CAPABILITY = "defender_endpoint_response"
RESPONSE_ROLE = "defender_responder"
DEFAULT_CAP = 5
MAX_CAP = 100
DEFAULT_WAIT_SECONDS = 240  # sendalert's maxtime is 5 minutes by default: stop well inside it
MAX_WAIT_SECONDS = 270
FINAL_STATUSES = ("Succeeded", "Failed", "Cancelled", "TimeOut")
OPEN_STATUSES = ("Pending", "InProgress")

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_MACHINE_ID = re.compile(r"^[0-9a-fA-F]{40}$")
_DEVICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$")
_EMPTY = ("", "null", "unknown", "none", "n/a", "-")


class BadParameter(ValueError):
    """A parameter of the action is malformed; nothing was sent. The message names the fix."""


@dataclass(frozen=True)
class ActionSpec:
    name: str  # the alert action's name (alert_actions.conf stanza)
    label: str
    kind: str  # machine | alert | user
    verb: str  # the audit event's action
    path: str = ""  # POST /api/machines/{id}/<path>
    machine_type: str = ""  # Defender's MachineAction type
    opposite: str = ""  # a pending action of this type is a conflict too
    permission: str = ""


ACTIONS: dict[str, ActionSpec] = {
    spec.name: spec
    for spec in (
        ActionSpec(
            "mde_isolate_device",
            "Isolate device",
            "machine",
            "isolate",
            "isolate",
            "Isolate",
            "Unisolate",
            "Machine.Isolate",
        ),
        ActionSpec(
            "mde_release_device",
            "Release device from isolation",
            "machine",
            "release",
            "unisolate",
            "Unisolate",
            "Isolate",
            "Machine.Isolate",
        ),
        ActionSpec(
            "mde_run_antivirus_scan",
            "Run antivirus scan",
            "machine",
            "antivirus_scan",
            "runAntiVirusScan",
            "RunAntiVirusScan",
            "",
            "Machine.Scan",
        ),
        ActionSpec(
            "mde_restrict_app_execution",
            "Restrict app execution",
            "machine",
            "restrict_app_execution",
            "restrictCodeExecution",
            "RestrictCodeExecution",
            "UnrestrictCodeExecution",
            "Machine.RestrictExecution",
        ),
        ActionSpec(
            "mde_remove_app_restriction",
            "Remove app execution restriction",
            "machine",
            "remove_app_restriction",
            "unrestrictCodeExecution",
            "UnrestrictCodeExecution",
            "RestrictCodeExecution",
            "Machine.RestrictExecution",
        ),
        ActionSpec(
            "mde_collect_investigation_package",
            "Collect investigation package",
            "machine",
            "collect_investigation_package",
            "collectInvestigationPackage",
            "CollectInvestigationPackage",
            "",
            "Machine.CollectForensics",
        ),
        ActionSpec("mde_update_alert", "Update alert", "alert", "update_alert", permission="Alert.ReadWrite.All"),
        ActionSpec(
            "mde_disable_user",
            "Disable Entra ID user",
            "user",
            "disable_user",
            permission="User.EnableDisableAccount.All and User.Read.All",
        ),
        ActionSpec(
            "mde_enable_user",
            "Enable Entra ID user",
            "user",
            "enable_user",
            permission="User.EnableDisableAccount.All and User.Read.All",
        ),
        ActionSpec(
            "mde_revoke_user_sessions",
            "Revoke user sign-in sessions",
            "user",
            "revoke_sessions",
            permission="User.RevokeSessions.All and User.Read.All",
        ),
    )
}

# Where each kind of target may be named in a result, in order of preference: the raw
# alert (sourcetype ms:defender:atp:alerts), the CIM field, the Alerts data model field.
TENANT_FIELDS = ("aadTenantId", "vendor_account", "Alerts.vendor_account", "tenantId", "tenant_id")
MACHINE_ID_FIELDS = ("machineId", "dest_id", "Alerts.dest_id")
DEVICE_FIELDS = ("computerDnsName", "dest", "Alerts.dest", "dest_nt_host", "Alerts.dest_nt_host")
ALERT_ID_FIELDS = ("id", "Alerts.id", "alertId", "alert_id")
USER_FIELDS = ("aadUserId", "userPrincipalName", "user", "Alerts.user", "user_name", "Alerts.user_name")

ALERT_STATUSES = ("New", "InProgress", "Resolved")
ALERT_CLASSIFICATIONS = ("TruePositive", "InformationalExpectedActivity", "FalsePositive")
ALERT_DETERMINATIONS = (
    "MultiStagedAttack",
    "MaliciousUserActivity",
    "CompromisedAccount",
    "Malware",
    "Phishing",
    "UnwantedSoftware",
    "SecurityTesting",
    "LineOfBusinessApplication",
    "ConfirmedActivity",
    "NotMalicious",
    "InsufficientData",
    "Other",
)


# -- parameters ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Params:
    spec: ActionSpec
    cap: int
    wait_seconds: int
    account: str
    comment: str
    device: str = ""
    alert_id: str = ""
    user: str = ""
    body: Mapping[str, Any] = field(default_factory=dict)  # the isolation/scan type, or the alert's changes
    revoke_sessions: bool = False


def _text(config: Mapping[str, Any], name: str) -> str:
    value = config.get(name)
    return "" if value is None else str(value).strip()


def _bounded_int(config: Mapping[str, Any], name: str, default: int, low: int, high: int, label: str) -> int:
    raw = _text(config, name)
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise BadParameter(f"{label} must be a whole number from {low} to {high} (got {raw!r}); fix param.{name}.")
    return int(raw)


def _choice(config: Mapping[str, Any], name: str, allowed: Sequence[str], default: str = "") -> str:
    raw = _text(config, name) or default
    if not raw:
        return ""
    for value in allowed:
        if raw.lower() == value.lower():
            return value
    raise BadParameter(f"Unknown {name} {raw!r}: use one of {', '.join(allowed)} (param.{name}).")


def default_comment(search_name: str, sid: str, user: str) -> str:
    return f"Splunk: search {search_name or 'ad hoc'!r}, sid {sid or '-'}, requested by {user or 'unknown user'}"


def parse_params(action: str, config: Mapping[str, Any], *, search_name: str, sid: str, user: str) -> Params:
    """The action's parameters, checked before anything is sent; BadParameter names the fix."""
    spec = ACTIONS.get(action)
    if spec is None:
        raise BadParameter(f"Unknown response action {action!r}: one of {', '.join(ACTIONS)}.")
    cap = _bounded_int(config, "max_targets", DEFAULT_CAP, 1, MAX_CAP, "Max targets")
    wait = _bounded_int(config, "wait_seconds", DEFAULT_WAIT_SECONDS, 0, MAX_WAIT_SECONDS, "Wait seconds")
    given = _text(config, "comment")
    comment = given or default_comment(search_name, sid, user)
    if given and "Splunk" not in given:
        comment = f"{given} ({default_comment(search_name, sid, user)})"
    if not comment.strip():
        raise BadParameter("The comment is empty: set param.comment.")
    body: dict[str, Any] = {}
    if spec.name == "mde_isolate_device":
        body["IsolationType"] = _choice(config, "isolation_type", ("Full", "Selective"), "Full")
    elif spec.name == "mde_run_antivirus_scan":
        body["ScanType"] = _choice(config, "scan_type", ("Quick", "Full"), "Quick")
    elif spec.kind == "alert":
        body = alert_changes(config)
        body["comment"] = comment
    revoke = _text(config, "revoke_sessions").lower() in ("1", "true", "yes")
    return Params(
        spec,
        cap,
        wait,
        _text(config, "account"),
        comment,
        device=_text(config, "device"),
        alert_id=_text(config, "alert_id"),
        user=_text(config, "user"),
        body=body,
        revoke_sessions=revoke,
    )


def alert_changes(config: Mapping[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name, key, allowed in (
        ("status", "status", ALERT_STATUSES),
        ("classification", "classification", ALERT_CLASSIFICATIONS),
        ("determination", "determination", ALERT_DETERMINATIONS),
    ):
        value = _choice(config, name, allowed)
        if value:
            changes[key] = value
    assigned = _text(config, "assigned_to")
    if assigned:
        changes["assignedTo"] = assigned
    return changes


# -- targets ---------------------------------------------------------------------------------


@dataclass
class Target:
    """One thing to act on, with every result that named it."""

    kind: str
    tenant: str
    machine_id: str = ""
    device_name: str = ""
    alert_id: str = ""
    user: str = ""
    problem: str = ""  # why it is refused before any call, if it is
    rids: list[str] = field(default_factory=list)
    alert_ids: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, ...]:
        identity = self.machine_id.lower() or self.device_name.lower() or self.alert_id or self.user.lower()
        return (self.kind, self.tenant, identity, self.problem)

    @property
    def label(self) -> str:
        if self.kind == "machine":
            return self.device_name or self.machine_id or "(no device)"
        if self.kind == "alert":
            return self.alert_id or "(no alert id)"
        return self.user or "(no user)"


def values(row: Mapping[str, Any], name: str) -> list[str]:
    """A result field's values: a multivalue field arrives as `__mv_<name>` = `$a$;$b$`."""
    multi = row.get(f"__mv_{name}")
    if isinstance(multi, str) and multi.startswith("$") and multi.endswith("$"):
        found = [part.replace("$$", "$") for part in re.findall(r"\$((?:[^$]|\$\$)*)\$", multi)]
    else:
        found = [str(row.get(name) or "")]
    unique: list[str] = []
    for value in (v.strip() for v in found):
        if value.lower() not in _EMPTY and value not in unique:
            unique.append(value)
    return unique


def first_field(row: Mapping[str, Any], names: Iterable[str]) -> tuple[str, list[str]]:
    """The first of `names` the row fills, and its values."""
    for name in names:
        found = values(row, name)
        if found:
            return name, found
    return "", []


def _single(row: Mapping[str, Any], names: Sequence[str], what: str) -> tuple[str, str]:
    """(value, problem): a field with several values is ambiguous and refused."""
    name, found = first_field(row, names)
    if len(found) > 1:
        return "", f"the result names {len(found)} {what}s in {name} ({', '.join(found[:5])}): narrow the search"
    return (found[0] if found else ""), ""


def target_of(row: Mapping[str, Any], params: Params) -> Target:
    kind = params.spec.kind
    tenant, problem = _single(row, TENANT_FIELDS, "tenant")
    target = Target(kind, tenant.lower())
    alert_id, _ = _single(row, ALERT_ID_FIELDS, "alert")
    if alert_id:
        target.alert_ids.append(alert_id)
    if problem:
        target.problem = problem
    elif not tenant:
        target.problem = (
            f"the result has no tenant (none of {', '.join(TENANT_FIELDS[:3])}): "
            "search the add-on's alerts, or add aadTenantId to the results"
        )
    elif not _GUID.match(tenant):
        target.problem = f"the result's tenant {tenant!r} is not a directory (tenant) id"
    if kind == "machine":
        _machine(row, params, target)
    elif kind == "alert":
        target.alert_id = params.alert_id or alert_id
        if not target.alert_id and not target.problem:
            target.problem = f"the result names no alert (none of {', '.join(ALERT_ID_FIELDS[:2])}); set param.alert_id"
    else:
        _user(row, params, target)
    return target


def _machine(row: Mapping[str, Any], params: Params, target: Target) -> None:
    if params.device:
        explicit = params.device
        if _MACHINE_ID.match(explicit):
            target.machine_id = explicit.lower()
        else:
            target.device_name = explicit
    else:
        machine_id, problem = _single(row, MACHINE_ID_FIELDS, "device id")
        name, name_problem = _single(row, DEVICE_FIELDS, "device")
        if machine_id and _MACHINE_ID.match(machine_id):
            target.machine_id = machine_id.lower()
        elif name and _MACHINE_ID.match(name):
            target.machine_id, name = name.lower(), ""  # CIM dest falls back to the machine id
        target.device_name = name
        if not target.machine_id and (problem or name_problem) and not target.problem:
            target.problem = problem or name_problem
    if target.device_name and not target.machine_id and not _DEVICE_NAME.match(target.device_name):
        target.problem = target.problem or f"{target.device_name!r} is not a device name"
    if not target.machine_id and not target.device_name and not target.problem:
        target.problem = (
            "the result names no device (none of machineId, computerDnsName, dest, Alerts.dest); set param.device"
        )


def _user(row: Mapping[str, Any], params: Params, target: Target) -> None:
    if params.user:
        target.user = params.user
        return
    name, problem = _single(row, ("relatedUser.userName",), "user")
    if name and "@" not in name:
        domain, _ = _single(row, ("relatedUser.domainName",), "domain")
        name = f"{domain}\\{name}" if domain else name
    if not name and not problem:
        name, problem = _single(row, USER_FIELDS, "user")
    target.user = name
    if problem and not target.problem:
        target.problem = problem
    if not target.user and not target.problem:
        target.problem = "the result names no user (none of relatedUser.userName, user, Alerts.user); set param.user"


def collect_targets(rows: Iterable[tuple[str, Mapping[str, Any]]], params: Params) -> list[Target]:
    """One target per distinct thing named, in the order first named; rows naming the same one are merged."""
    merged: dict[tuple[str, ...], Target] = {}
    for rid, row in rows:
        target = target_of(row, params)
        known = merged.setdefault(target.key, target)
        known.rids.append(rid)
        if known is not target:
            known.alert_ids.extend(a for a in target.alert_ids if a not in known.alert_ids)
    return list(merged.values())


def user_lookup(user: str) -> tuple[str, str]:
    """How Graph finds a user: ("id", <id or UPN>) directly, or ("sam", <name>) by a filter."""
    if _GUID.match(user) or "@" in user:
        return "id", user
    return "sam", user.split("\\")[-1]


# -- accounts --------------------------------------------------------------------------------


def choose_account(tenant: str, accounts: Mapping[str, str], wanted: str) -> tuple[str, str]:
    """(account name, problem) for a result of `tenant`; `accounts` maps name -> tenant GUID.

    The account must be the tenant's own: an MSSP's action never reaches another tenant.
    """
    if wanted:
        if wanted not in accounts:
            return "", f"account {wanted!r} (param.account) does not exist on this search head"
        if accounts[wanted] != tenant:
            return "", (
                f"account {wanted!r} belongs to tenant {accounts[wanted]}, the result to tenant {tenant}: "
                "nothing is sent to another tenant"
            )
        return wanted, ""
    names = sorted(name for name, guid in accounts.items() if guid == tenant)
    if not names:
        return "", (
            f"no account serves tenant {tenant}: add one under Configuration > Accounts on this search head "
            "(response actions run where the search runs)"
        )
    if len(names) > 1:
        return "", f"accounts {', '.join(names)} all serve tenant {tenant}: choose one with param.account"
    return names[0], ""


def is_guid(value: str) -> bool:
    return bool(_GUID.match(value))


# -- machine actions -------------------------------------------------------------------------


def open_conflict(actions: Iterable[Mapping[str, Any]], spec: ActionSpec) -> Optional[Mapping[str, Any]]:
    """A Pending or InProgress action of the same type (or its opposite) makes a new one a repeat."""
    types = {spec.machine_type.lower(), spec.opposite.lower()} - {""}
    for action in actions:
        if str(action.get("status")) in OPEN_STATUSES and str(action.get("type", "")).lower() in types:
            return action
    return None


def poll_delays(first: float = 1.0, factor: float = 2.0, longest: float = 30.0) -> Iterator[float]:
    """1, 2, 4, ... 30 s: a few calls when Defender is quick, about 13 per action over a 4-minute wait."""
    delay = first
    while True:
        yield delay
        delay = min(longest, delay * factor)


def outcome_of(status: str) -> str:
    if status == "Succeeded":
        return "succeeded"
    if status in FINAL_STATUSES:
        return "failed"
    return "pending"


# -- audit -----------------------------------------------------------------------------------


@dataclass
class Attempt:
    """One audit event: one target of one invocation (or the whole invocation, when refused as a whole)."""

    action: str
    outcome: str  # succeeded | failed | pending | already_pending | refused | not_permitted | nothing_to_do
    kind: str = ""  # machine | alert | user; empty for the invocation as a whole
    target: str = ""
    tenant: str = ""
    account: str = ""
    machine_id: str = ""
    device_name: str = ""
    user: str = ""
    alert_ids: list[str] = field(default_factory=list)
    machine_action_id: str = ""
    status: str = ""  # Defender's last status, or the HTTP outcome for alerts and users
    error: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    rids: list[str] = field(default_factory=list)
    started: float = 0.0
    ended: float = 0.0

    def event(
        self, *, action_name: str, requested_by: str, search_name: str, sid: str, comment: str, app: str
    ) -> dict[str, Any]:
        """The audit event: names chosen not to collide with the CIM fields props.conf derives from them."""
        category = {"machine": "device", "alert": "alert", "user": "user"}.get(self.kind, "")
        record: dict[str, Any] = {
            "response_action": self.action,
            "action_name": action_name,
            "outcome": self.outcome,
            "object_category": category,
            "target": self.target,
            "tenant": self.tenant,
            "account": self.account,
            "machine_id": self.machine_id,
            "device_name": self.device_name,
            "target_user": self.user,
            "alert_ids": self.alert_ids,
            "requested_by": requested_by,
            "search_name": search_name,
            "sid": sid,
            "app": app,
            "comment": comment,
            "machine_action_id": self.machine_action_id,
            "final_status": self.status,
            "duration_seconds": round(max(0.0, self.ended - self.started), 3),
            "error": self.error,
            "result_ids": self.rids,
            "vendor_product": "Microsoft Defender for Endpoint",
        }
        record.update(self.details)
        return {key: value for key, value in record.items() if value not in ("", [], None)}
