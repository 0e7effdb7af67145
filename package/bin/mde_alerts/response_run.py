"""One invocation of a response action, as splunkd's sendalert runs it: results in, audit out.

UCC's generated `bin/<action>.py` parses splunkd's payload (splunktaucclib's
ModularAlertBase) and hands itself, as `helper`, to `mde_response_action.process_event`,
which calls `run` here. In order, before anything reaches Microsoft: the Splunk user
must hold the response capability, the parameters must be valid, the results must name
at most `max_targets` targets, and each target must have its tenant's own account. Then
machine actions are posted (unless one is already open) and watched together until each
reaches a final status or the wait ends; alerts and users are changed at once. Every
attempt becomes one audit event (sourcetype ms:defender:atp:action) in the index set
under Configuration > Response actions, written the way Enterprise Security expects
adaptive response results (helper.addevent / writeevents), and one `sendmodaction` log
line in the action's `_modalert.log`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from mde_alerts import response
from mde_alerts.defender_api import (
    BudgetExhausted,
    ConfigError,
    Connection,
    DefenderClient,
    TransientError,
    WriteUncertain,
)
from mde_alerts.response import RESPONSE_CAPABILITY, RESPONSE_ROLE, Attempt, BadParameter, Params, Target
from mde_alerts.response_api import Refused, ResponseApi, describe
from mde_alerts.splunk_config import Account, Splunkd, read_accounts, read_settings

EXIT_OK = 0
EXIT_REFUSED = 2  # splunkd logs a non-zero exit of an alert script as a failed action
POST_ATTEMPTS = 2
MINUTE_CALLS = 90  # Defender allows 100 a minute per tenant; the input keeps its own pace


@dataclass
class Context:
    action: str
    search_name: str
    sid: str
    app: str
    requested_by: str
    comment: str = ""
    started: float = field(default_factory=time.time)
    rows: dict[str, Mapping[str, Any]] = field(default_factory=dict)  # rid -> result, for the ES header


class Pacer:
    """Keeps one invocation under Defender's per-minute limit (a 429 is honoured besides)."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self) -> None:
        now = time.monotonic()
        self.calls = [t for t in self.calls if t > now - 60] + [now]
        if len(self.calls) >= MINUTE_CALLS:
            time.sleep(max(0.0, self.calls[0] + 60 - now))


def run(helper: Any, action: str) -> int:
    """The action's whole invocation; returns the script's exit status."""
    payload: Mapping[str, Any] = helper.settings
    splunkd = Splunkd.from_server_uri(str(payload.get("server_uri") or ""), str(payload.get("session_key") or ""))
    context = Context(
        action,
        str(payload.get("search_name") or ""),
        str(payload.get("sid") or ""),
        str(payload.get("app") or ""),
        str(payload.get("user") or payload.get("owner") or ""),
    )
    attempts: list[Attempt] = []
    index = "main"
    try:
        index = _run(helper, splunkd, context, attempts)
    finally:
        _write_audit(helper, context, attempts, index)
    bad = [a for a in attempts if a.outcome in ("failed", "refused", "not_permitted")]
    return EXIT_REFUSED if bad else EXIT_OK


def _run(helper: Any, splunkd: Splunkd, context: Context, attempts: list[Attempt]) -> str:
    spec_name = context.action
    verb = response.ACTIONS[spec_name].verb if spec_name in response.ACTIONS else spec_name
    whole = Attempt(verb, "refused", started=time.time())
    # 0. The add-on's settings (proxy, CA, audit index): splunkd only, so refusals land in the audit index too.
    try:
        settings = read_settings(splunkd)
    except ConfigError as error:
        whole.error = f"{error} Nothing was sent."
        return _finish(attempts, whole)
    index = settings.audit_index
    # 1. The Splunk user: checked before any call to Microsoft, so a refused user costs Microsoft nothing.
    try:
        user, roles, capabilities = splunkd.current_user()
    except Exception as error:  # noqa: BLE001 (splunklib raises HTTP, socket and SSL errors alike)
        whole.error = f"splunkd did not say who runs this action ({type(error).__name__}); nothing was sent"
        return _finish(attempts, whole, index)
    context.requested_by = user or context.requested_by
    if RESPONSE_CAPABILITY not in capabilities:
        whole.outcome = "not_permitted"
        whole.error = (
            f"Splunk user {user!r} (roles {', '.join(roles) or 'none'}) lacks the capability {RESPONSE_CAPABILITY}: "
            f"an admin must give the user the role {RESPONSE_ROLE}; nothing was sent"
        )
        return _finish(attempts, whole, index)
    # 2. The parameters.
    try:
        params = response.parse_params(
            spec_name,
            helper.configuration,
            search_name=context.search_name,
            sid=context.sid,
            user=context.requested_by,
        )
    except BadParameter as error:
        whole.error = f"{error} Nothing was sent."
        return _finish(attempts, whole, index)
    context.comment = params.comment
    deadline = time.monotonic() + params.wait_seconds
    # 3. The targets.
    rows = [(str(row.get("rid", i)), row) for i, row in enumerate(helper.get_events())]
    context.rows = dict(rows)
    if not rows:
        whole.outcome = "nothing_to_do"
        whole.error = "the search returned no results: nothing to act on"
        return _finish(attempts, whole, index)
    targets = response.collect_targets(rows, params)
    if len(targets) > params.cap:
        whole.error = (
            f"{len(targets)} targets exceed this action's cap of {params.cap} per invocation: nothing was sent. "
            "Narrow the search, or raise param.max_targets (at most 100)"
        )
        whole.details = {"target_count": len(targets), "cap": params.cap}
        whole.rids = [rid for target in targets for rid in target.rids][:100]
        return _finish(attempts, whole, index)
    # 4. Accounts: the result's tenant's own.
    try:
        accounts = read_accounts(splunkd)
    except Exception as error:  # noqa: BLE001
        whole.error = (
            f"the accounts could not be read ({type(error).__name__}): the role {RESPONSE_ROLE} needs "
            "list_storage_passwords to read this add-on's account secrets; nothing was sent"
        )
        return _finish(attempts, whole, index)
    worker = Worker(params, accounts, settings.connection, deadline, helper)
    for target in targets:
        attempts.append(worker.start(target))
    worker.wait_for_machine_actions()
    return settings.audit_index


def _finish(attempts: list[Attempt], attempt: Attempt, index: str = "main") -> str:
    attempt.ended = time.time()
    attempts.append(attempt)
    return index


class Worker:
    """Acts on each target with the account of its tenant; one Defender client per account."""

    def __init__(
        self, params: Params, accounts: dict[str, Account], connection: Connection, deadline: float, helper: Any
    ) -> None:
        self.params = params
        self.spec = params.spec
        self.accounts = accounts
        self.connection = connection
        self.deadline = deadline
        self.helper = helper
        self.pacer = Pacer()
        self._clients: dict[str, DefenderClient] = {}
        self._tenants: Optional[dict[str, str]] = None
        self.watching: list[tuple[Attempt, ResponseApi]] = []

    def client(self, name: str) -> DefenderClient:
        if name not in self._clients:
            account = self.accounts[name]
            client = DefenderClient(account.cloud, account.tenant_id, account.credential, self.connection)
            client.on_call = self.pacer
            client.deadline = self.deadline + 20  # a 429 may not push the run past sendalert's maxtime
            self._clients[name] = client
        return self._clients[name]

    def tenants(self) -> dict[str, str]:
        """Account name -> tenant GUID; an account named by domain is resolved through Entra ID
        (its OIDC document), once per invocation and only when a result needs it."""
        if self._tenants is None:
            self._tenants = {}
            for name, account in self.accounts.items():
                if response.is_guid(account.tenant_id):
                    self._tenants[name] = account.tenant_id.lower()
                    continue
                try:
                    self._tenants[name] = self.client(name).tenant_guid()
                except (ConfigError, TransientError) as error:
                    self.helper.log_warn(f"Account {name!r} is left out: its tenant could not be resolved ({error})")
        return self._tenants

    def start(self, target: Target) -> Attempt:
        attempt = Attempt(
            self.spec.verb,
            "refused",
            kind=target.kind,
            target=target.label,
            tenant=target.tenant,
            machine_id=target.machine_id,
            device_name=target.device_name,
            user=target.user,
            alert_ids=list(target.alert_ids),
            rids=list(target.rids),
            started=time.time(),
        )
        try:
            if target.problem:
                raise Refused(f"{target.problem}; nothing was sent")
            name, problem = response.choose_account(target.tenant, self.tenants(), self.params.account)
            if problem:
                raise Refused(f"{problem}; nothing was sent")
            attempt.account = name
            api = ResponseApi(self.client(name))
            if self.spec.kind == "machine":
                self._machine(api, target, attempt)
            elif self.spec.kind == "alert":
                self._alert(api, target, attempt)
            else:
                self._user(api, target, attempt)
        except Refused as error:
            attempt.outcome, attempt.error = "refused", str(error)
        except BudgetExhausted:
            attempt.outcome = "failed"
            attempt.error = (
                "Defender throttled this tenant (429) for longer than the action may wait; nothing more was sent. "
                "Run the action again in a few minutes"
            )
        except (ConfigError, TransientError) as error:
            attempt.outcome, attempt.error = "failed", describe(error)
        attempt.ended = time.time()
        return attempt

    # -- devices ---------------------------------------------------------------------------

    def _machine(self, api: ResponseApi, target: Target, attempt: Attempt) -> None:
        if target.machine_id:
            machine = api.machine(target.machine_id)
        else:
            found = api.machines_named(target.device_name)
            if not found:
                raise Refused(
                    f"no device named {target.device_name!r} in tenant {target.tenant} "
                    f"(searched computerDnsName eq '{target.device_name.lower()}'); nothing was sent"
                )
            if len(found) > 1:
                listed = ", ".join(f"{m.get('computerDnsName')} ({m.get('id')})" for m in found[:10])
                raise Refused(
                    f"{len(found)} devices match {target.device_name!r}: {listed}; pass the machine id as "
                    "param.device; nothing was sent"
                )
            machine = found[0]
        attempt.machine_id = str(machine.get("id") or target.machine_id)
        attempt.device_name = str(machine.get("computerDnsName") or target.device_name)
        attempt.target = attempt.device_name or attempt.machine_id
        if self._adopt_open(api, attempt):
            return
        body = {"Comment": self.params.comment, **self.params.body}
        for post in range(1, POST_ATTEMPTS + 1):
            try:
                answer = api.post_machine_action(attempt.machine_id, self.spec, body)
            except WriteUncertain as error:
                # Defender may have taken it: look before posting again, never post twice.
                if self._adopt_open(api, attempt, after_uncertain=True):
                    return
                if post == POST_ATTEMPTS:
                    raise TransientError(f"{error}; Defender shows no such action, so it was not sent again") from None
                continue
            if answer.status in (200, 201) and isinstance(answer.body, dict):
                attempt.machine_action_id = str(answer.body.get("id") or "")
                attempt.status = str(answer.body.get("status") or "Pending")
                attempt.outcome = response.outcome_of(attempt.status)
                self.watching.append((attempt, api))
                return
            if answer.status == 400 and "in progress" in answer.error.lower():
                self._adopt_open(api, attempt)  # names the open action's id when Defender lists it
                attempt.outcome, attempt.status = "already_pending", attempt.status or "InProgress"
                attempt.error = f"Defender: {answer.error}; not sent again"
                return
            if answer.status == 404:
                raise Refused(f"device {attempt.machine_id} is not in tenant {target.tenant} (404 {answer.error})")
            raise Refused(f"Defender refused the {self.spec.label.lower()} ({answer.status} {answer.error})")

    def _adopt_open(self, api: ResponseApi, attempt: Attempt, after_uncertain: bool = False) -> bool:
        conflict = response.open_conflict(api.open_actions(attempt.machine_id), self.spec)
        if conflict is None:
            return False
        same = str(conflict.get("type")) == self.spec.machine_type
        attempt.machine_action_id = str(conflict.get("id") or "")
        attempt.status = str(conflict.get("status") or "")
        if after_uncertain and same:
            attempt.outcome = response.outcome_of(attempt.status)  # our own post, answered late
            self.watching.append((attempt, api))
            return True
        attempt.outcome = "already_pending" if same else "refused"
        attempt.error = (
            f"a {conflict.get('type')} action ({attempt.machine_action_id}) is already {attempt.status} on this "
            f"device{'' if same else ': wait for it to finish'}; not sent again"
        )
        return True

    def wait_for_machine_actions(self) -> None:
        """Poll every posted action, with backoff, until it is final or the wait is over."""
        delays = response.poll_delays()
        while True:
            open_ = [(a, api) for a, api in self.watching if a.outcome == "pending"]
            if not open_:
                return
            delay = next(delays)
            if time.monotonic() + delay > self.deadline:
                for attempt, _ in open_:
                    attempt.error = (
                        f"still {attempt.status} when this action stopped waiting ({self.params.wait_seconds}s); "
                        "follow it in Defender's Action center"
                    )
                    attempt.ended = time.time()
                return
            time.sleep(delay)
            for attempt, api in open_:
                try:
                    state = api.machine_action(attempt.machine_action_id)
                except (ConfigError, TransientError, BudgetExhausted) as error:
                    attempt.error = describe(error)
                    continue
                attempt.status = str(state.get("status") or attempt.status)
                attempt.outcome = response.outcome_of(attempt.status)
                attempt.ended = time.time()
                if attempt.outcome == "failed":
                    attempt.error = f"Defender reports {attempt.status}"

    # -- alerts and users ------------------------------------------------------------------

    def _alert(self, api: ResponseApi, target: Target, attempt: Attempt) -> None:
        changes = dict(self.params.body)
        updated = api.update_alert(target.alert_id, changes)
        attempt.outcome = "succeeded"
        attempt.status = "Updated"
        attempt.alert_ids = [target.alert_id] + [a for a in attempt.alert_ids if a != target.alert_id]
        attempt.details = {
            "changes": {k: v for k, v in changes.items() if k != "comment"},
            "alert_last_update_time": updated.get("lastUpdateTime", ""),
        }

    def _user(self, api: ResponseApi, target: Target, attempt: Attempt) -> None:
        how, value = response.user_lookup(target.user)
        found = api.find_users(how, value)
        if not found:
            raise Refused(f"no Entra ID user {value!r} in tenant {target.tenant} (searched by {how}); nothing was sent")
        if len(found) > 1:
            listed = ", ".join(str(u.get("userPrincipalName")) for u in found[:10])
            raise Refused(f"{len(found)} users match {value!r}: {listed}; pass the UPN as param.user")
        user = found[0]
        user_id = str(user.get("id") or value)
        attempt.user = str(user.get("userPrincipalName") or target.user)
        attempt.target = attempt.user
        attempt.details = {"user_id": user_id}
        if self.spec.name in ("mde_disable_user", "mde_enable_user"):
            wanted = self.spec.name == "mde_enable_user"
            if user.get("accountEnabled") is wanted:
                attempt.status = "Enabled" if wanted else "Disabled"
                attempt.outcome = "succeeded"
                attempt.error = f"the account was already {attempt.status.lower()}: not changed"
            else:
                api.set_account_enabled(user_id, wanted)
                attempt.status, attempt.outcome = ("Enabled" if wanted else "Disabled"), "succeeded"
        if self.spec.name == "mde_revoke_user_sessions" or (
            self.spec.name == "mde_disable_user" and self.params.revoke_sessions
        ):
            api.revoke_sessions(user_id)
            attempt.details["sessions_revoked"] = True
            attempt.status = attempt.status or "SessionsRevoked"
            attempt.outcome = "succeeded"


# -- audit -------------------------------------------------------------------------------------


def _write_audit(helper: Any, context: Context, attempts: list[Attempt], index: str) -> None:
    """One event per attempt (an adaptive response result for ES) and one sendmodaction line."""
    for attempt in attempts:
        event = attempt.event(
            action_name=context.action,
            requested_by=context.requested_by,
            search_name=context.search_name,
            sid=context.sid,
            comment=context.comment,
            app=context.app,
        )
        # The result's own orig_sid/orig_rid (a notable's, from ES) or this search's sid and rid head the event.
        rid = attempt.rids[0] if attempt.rids else "0"
        helper.update(dict(context.rows.get(rid) or {"rid": rid}))
        helper.addevent(json.dumps(event, separators=(",", ":"), sort_keys=True), sourcetype=response.AUDIT_SOURCETYPE)
        ok = attempt.outcome in ("succeeded", "pending", "already_pending", "nothing_to_do")
        signature = f"{attempt.action} {attempt.target or ''}: {attempt.outcome}".replace('"', "'")
        if attempt.error:
            signature += f" - {attempt.error}".replace('"', "'")
        helper.message(
            signature,
            status="success" if ok else "failure",
            level=logging.INFO if ok else logging.ERROR,
            outcome=attempt.outcome,
            machine_action_id=attempt.machine_action_id,
            tenant=attempt.tenant,
        )
    if attempts:
        helper.writeevents(index=index, host=None, source=f"defender_endpoint_response:{context.action}")
