"""The response actions' calls to Defender and Microsoft Graph, on the input's own client.

Each method is one documented call (FACTS.md section 9) made through `DefenderClient.call`,
so tokens, proxy, CA bundle, retries and 429/Retry-After are the input's, and every call
counts against the same tenant's budget. What an answer means (a 404 is a device that is
not in this tenant, a 400 "already in progress" is a repeat) is decided here; what to do
about it is `response_run`'s.
"""

from __future__ import annotations

from typing import Any, Optional
from urllib.parse import quote

from mde_alerts.defender_api import GRAPH_API, Answer, ConfigError, DefenderClient, TransientError
from mde_alerts.response import ActionSpec

MACHINE_READ = "Machine.Read.All (needed to find the device and to watch its actions)"
USER_READ = "User.Read.All"
USER_SELECT = "id,userPrincipalName,displayName,accountEnabled,onPremisesSamAccountName"


class Refused(Exception):
    """Microsoft cannot act on this target (unknown, ambiguous, not in the tenant); the message says why."""


def odata_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _items(answer: Answer) -> list[dict[str, Any]]:
    body = answer.body
    if isinstance(body, dict) and isinstance(body.get("value"), list):
        return [item for item in body["value"] if isinstance(item, dict)]
    raise TransientError(f"Microsoft answered {answer.status} without a list of values; try again later.")


class ResponseApi:
    def __init__(self, client: DefenderClient) -> None:
        self.client = client
        self.api = client.cloud.api_base
        self.graph = client.cloud.graph_base

    # -- devices ---------------------------------------------------------------------------

    def machine(self, machine_id: str) -> dict[str, Any]:
        answer = self.client.call(
            "GET", f"{self.api}/api/machines/{quote(machine_id, safe='')}", permission=MACHINE_READ
        )
        if answer.status == 404:
            raise Refused(f"device {machine_id} is not in tenant {self.client.tenant} (404 {answer.error})")
        if answer.status != 200 or not isinstance(answer.body, dict):
            raise Refused(f"Defender answered {answer.status} {answer.error} for device {machine_id}")
        return dict(answer.body)

    def machines_named(self, name: str) -> list[dict[str, Any]]:
        """Devices whose DNS name is `name`; a short name also matches `<name>.<domain>`."""
        found = self._machines(f"computerDnsName eq {odata_literal(name.lower())}")
        if not found and "." not in name:
            found = self._machines(f"startswith(computerDnsName,{odata_literal(name.lower() + '.')})")
        return found

    def _machines(self, odata_filter: str) -> list[dict[str, Any]]:
        answer = self.client.call(
            "GET", f"{self.api}/api/machines", params={"$filter": odata_filter}, permission=MACHINE_READ
        )
        if answer.status != 200:
            raise Refused(f"Defender refused the device search {odata_filter!r} ({answer.status} {answer.error})")
        return _items(answer)

    def open_actions(self, machine_id: str) -> list[dict[str, Any]]:
        """The device's Pending and InProgress machine actions (any type)."""
        found: list[dict[str, Any]] = []
        for status in ("Pending", "InProgress"):
            odata_filter = f"machineId eq {odata_literal(machine_id)} and status eq {odata_literal(status)}"
            answer = self.client.call(
                "GET", f"{self.api}/api/machineactions", params={"$filter": odata_filter}, permission=MACHINE_READ
            )
            if answer.status != 200:
                raise TransientError(f"Defender did not list the device's actions ({answer.status} {answer.error})")
            found.extend(_items(answer))
        return found

    def post_machine_action(self, machine_id: str, spec: ActionSpec, body: dict[str, Any]) -> Answer:
        return self.client.call(
            "POST",
            f"{self.api}/api/machines/{quote(machine_id, safe='')}/{spec.path}",
            body=body,
            permission=spec.permission,
        )

    def machine_action(self, action_id: str) -> dict[str, Any]:
        answer = self.client.call(
            "GET", f"{self.api}/api/machineactions/{quote(action_id, safe='')}", permission=MACHINE_READ
        )
        if answer.status != 200 or not isinstance(answer.body, dict):
            raise TransientError(f"Defender did not return machine action {action_id} ({answer.status})")
        return dict(answer.body)

    # -- alerts ----------------------------------------------------------------------------

    def update_alert(self, alert_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        answer = self.client.call(
            "PATCH",
            f"{self.api}/api/alerts/{quote(alert_id, safe='')}",
            body=changes,
            permission="Alert.ReadWrite.All",
        )
        if answer.status == 404:
            raise Refused(f"alert {alert_id} is not in tenant {self.client.tenant} (404 {answer.error})")
        if answer.status >= 300:
            raise Refused(f"Defender refused the update of alert {alert_id} ({answer.status} {answer.error})")
        return dict(answer.body) if isinstance(answer.body, dict) else {}

    # -- Entra ID users (Microsoft Graph) --------------------------------------------------

    def _graph(self, method: str, path: str, permission: str, **kwargs: Any) -> Answer:
        return self.client.call(
            method,
            f"{self.graph}{path}",
            scope=self.client.cloud.graph_scope,
            permission=permission,
            api=GRAPH_API,
            **kwargs,
        )

    def find_users(self, how: str, value: str) -> list[dict[str, Any]]:
        if how == "id":
            answer = self._graph(
                "GET", f"/v1.0/users/{quote(value, safe='@')}", USER_READ, params={"$select": USER_SELECT}
            )
            if answer.status == 404:
                return []
            if answer.status != 200 or not isinstance(answer.body, dict):
                raise Refused(f"Microsoft Graph refused the user lookup of {value!r} ({answer.status} {answer.error})")
            return [dict(answer.body)]
        # An on-premises account name: an advanced query (ConsistencyLevel: eventual and $count).
        answer = self._graph(
            "GET",
            "/v1.0/users",
            USER_READ,
            params={
                "$filter": f"onPremisesSamAccountName eq {odata_literal(value)}",
                "$select": USER_SELECT,
                "$count": "true",
            },
            headers={"ConsistencyLevel": "eventual"},
        )
        if answer.status != 200:
            raise Refused(f"Microsoft Graph refused the user search for {value!r} ({answer.status} {answer.error})")
        return _items(answer)

    def set_account_enabled(self, user_id: str, enabled: bool) -> None:
        answer = self._graph(
            "PATCH",
            f"/v1.0/users/{quote(user_id, safe='')}",
            "User.EnableDisableAccount.All and User.Read.All",
            body={"accountEnabled": enabled},
        )
        if answer.status == 404:
            raise Refused(f"user {user_id} is not in tenant {self.client.tenant} (404 {answer.error})")
        if answer.status >= 300:
            raise Refused(f"Microsoft Graph refused the change ({answer.status} {answer.error})")

    def revoke_sessions(self, user_id: str) -> None:
        answer = self._graph(
            "POST", f"/v1.0/users/{quote(user_id, safe='')}/revokeSignInSessions", "User.RevokeSessions.All"
        )
        if answer.status == 404:
            raise Refused(f"user {user_id} is not in tenant {self.client.tenant} (404 {answer.error})")
        if answer.status >= 300:
            raise Refused(f"Microsoft Graph refused to revoke the sessions ({answer.status} {answer.error})")


def describe(error: Exception) -> str:
    """A sentence for the audit event: ConfigError and Refused already name the fix."""
    if isinstance(error, (ConfigError, Refused, TransientError)):
        return str(error)
    return f"{type(error).__name__}: {str(error)[:300]}"


def machine_label(machine: Optional[dict[str, Any]], machine_id: str) -> str:
    return str((machine or {}).get("computerDnsName") or machine_id)
