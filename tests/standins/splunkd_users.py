"""Users, roles and UCC's settings handler for the splunkd stand-in: what an alert action asks.

Why a separate file: a response action runs with the session key of whoever triggered it, so the
stand-in must know who that is. This mixin gives every session key a user with roles, and
computes the user's capabilities the way splunkd does: built-in roles (a small table below)
plus the app's own ``authorize.conf`` from its default directory (``[role_x]`` with
``importRoles`` and ``<capability> = enabled``), so the package's real authorize.conf is what
grants or denies. It serves:

* ``authentication/current-context``: ``username``, ``roles``, ``capabilities`` (JSON or Atom);
* UCC's settings REST handler ``<restRoot>_settings/<tab>`` (GET), which splunktaucclib's
  ModularAlertBase reads on start (``get_log_level``) with ``--cred--=1``: encrypted fields come
  back decrypted;
* the rule that reading ``storage/passwords`` (directly, or through ``--cred--``) needs the
  capability ``list_storage_passwords``: 403 otherwise, as splunkd answers.

Modelling choices: the built-in roles carry only the capabilities the add-on's code paths ask
about; a user's ACL on single objects is not modelled.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

BUILTIN_ROLES: dict[str, dict[str, Any]] = {
    "user": {"import": [], "capabilities": ["search", "rest_properties_get", "list_alert_actions"]},
    "power": {"import": ["user"], "capabilities": ["schedule_search", "rtsearch"]},
    "admin": {
        "import": ["power"],
        "capabilities": ["admin_all_objects", "list_storage_passwords", "edit_roles", "edit_alert_actions"],
    },
    "sc_admin": {"import": ["power"], "capabilities": ["list_storage_passwords", "edit_roles", "edit_alert_actions"]},
}
SEP = "``splunk_cred_sep``"


@dataclass
class StandinUser:
    name: str
    roles: list[str]
    capabilities: set[str] = field(default_factory=set)


class UsersStandin:
    """Mixed into SplunkdStandin."""

    app: str
    session_key: str
    _default: dict[tuple[str, str], dict[str, dict[str, str]]]
    _users: dict[str, StandinUser]

    def _init_users(self) -> None:
        self._users = {self.session_key: StandinUser("admin", ["admin"])}
        self._extra_roles: dict[str, dict[str, Any]] = {}

    def add_role(self, name: str, imports: list[str], capabilities: list[str]) -> None:
        """A role an admin made in Splunk Web (local authorize.conf)."""
        self._extra_roles[name] = {"import": list(imports), "capabilities": list(capabilities)}

    def add_user(self, name: str, roles: list[str]) -> str:
        """A user with these roles; returns the user's session key."""
        key = secrets.token_hex(24)
        self._users[key] = StandinUser(name, list(roles))
        return key

    def user_for(self, key: str) -> StandinUser | None:
        user = self._users.get(key)
        if user is not None:
            user.capabilities = self.capabilities_of(user.roles)
        return user

    def _role_table(self) -> dict[str, dict[str, Any]]:
        table = {
            name: {"import": list(r["import"]), "capabilities": list(r["capabilities"])}
            for name, r in BUILTIN_ROLES.items()
        }
        table.update({name: dict(role) for name, role in self._extra_roles.items()})
        authorize = self._default.get((self.app, "authorize"), {})
        for stanza, settings in authorize.items():
            if not stanza.startswith("role_"):
                continue
            role = table.setdefault(stanza[5:], {"import": [], "capabilities": []})
            for key, value in settings.items():
                if key == "importRoles":
                    role["import"] += [r.strip() for r in value.split(";") if r.strip()]
                elif value.strip().lower() == "enabled":
                    role["capabilities"].append(key)
        return table

    def capabilities_of(self, roles: list[str]) -> set[str]:
        table = self._role_table()
        found: set[str] = set()
        seen: set[str] = set()
        todo = list(roles)
        while todo:
            role = todo.pop()
            if role in seen or role not in table:
                continue
            seen.add(role)
            found.update(table[role]["capabilities"])
            todo.extend(table[role]["import"])
        return found

    def current_context(self, user: StandinUser) -> dict[str, Any]:
        return {
            "username": user.name,
            "realname": user.name.title(),
            "roles": user.roles,
            "capabilities": sorted(user.capabilities),
            "defaultApp": "search",
            "email": f"{user.name}@example.com",
            "tz": "",
        }

    def decrypted_fields(self, realm: str, stanza: str, passwords: dict[tuple[str, str], Any]) -> dict[str, str]:
        """What solnlib's credential manager reads back: the JSON of a stanza's encrypted fields."""
        chunks: dict[int, str] = {}
        whole = None
        for (app, _), p in passwords.items():
            if app != self.app or p.realm != realm:
                continue
            if p.username == stanza:
                whole = p.clear_password
            elif p.username.startswith(stanza + SEP):
                index = p.username[len(stanza + SEP) :]
                if index.isdigit():
                    chunks[int(index)] = p.clear_password
        if chunks:
            end = SEP + SEP.join("SPLUNK") + SEP
            text = "".join(chunks[i] for i in sorted(chunks) if chunks[i] != end)
        else:
            text = whole or ""
        try:
            values = json.loads(text) if text else {}
        except ValueError:
            return {}
        return {k: str(v) for k, v in values.items()} if isinstance(values, dict) else {}
