"""REST handler for Configuration > Accounts: test the credentials before saving.

UCC generates the handler that stores accounts; this subclass (named in
globalConfig.json) first obtains a token and reads one alert with what the admin
typed. On failure nothing is saved and the form shows one sentence with the fix.
"""

from __future__ import annotations

import import_declare_test  # noqa: F401  (puts the package's lib/ on sys.path)
from splunktaucclib.rest_handler.admin_external import AdminExternalHandler, get_splunkd_endpoint
from splunktaucclib.rest_handler.error import RestError

from mde_alerts.connectivity import check_account
from mde_alerts.defender_api import ConfigError, TransientError
from mde_alerts.splunk_config import Splunkd, account_from_fields, read_settings

# What a form may send back for a secret it did not change ("******"; older UCC: "********").
PLACEHOLDERS = ("******", "********")
SECRET_FIELDS = ("client_secret", "certificate_private_key")


class AccountHandler(AdminExternalHandler):
    def handleCreate(self, confInfo):  # noqa: N802, N803 (Splunk's names)
        self._test_connectivity(dict(self.payload))
        return super().handleCreate(confInfo)

    def handleEdit(self, confInfo):  # noqa: N802, N803
        fields = dict(self.payload)
        if "disabled" not in fields:
            unchanged = [name for name in SECRET_FIELDS if fields.get(name, PLACEHOLDERS[0]) in PLACEHOLDERS]
            if unchanged:
                # UCC's form leaves out a secret the admin did not retype (older forms send the
                # placeholder); splunktaucclib keeps the stored one, so check with that one too.
                current = _first_entry_content(self.handler.get(self.callerArgs.id, decrypt=True))
                for name in unchanged:
                    fields[name] = current.get(name, "")
            self._test_connectivity(fields)
        return super().handleEdit(confInfo)

    def _test_connectivity(self, fields: dict) -> None:
        splunkd = Splunkd.from_server_uri(get_splunkd_endpoint(), self.getSessionKey())
        try:
            account = account_from_fields(self.callerArgs.id or "new account", fields)
            check_account(account, read_settings(splunkd).connection)
        except (ConfigError, TransientError) as error:
            raise RestError(400, f"Not saved: {error}") from None


def _first_entry_content(response) -> dict:
    try:
        for entry in response:
            return dict(entry.content)
    except TypeError:
        pass
    return {}
