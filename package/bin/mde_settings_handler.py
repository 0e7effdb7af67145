"""REST handler for Configuration > Proxy, TLS, Response actions and Logging: check the CA bundle before saving.

UCC 6.6 generates the settings handler with no hook for a custom class (only tabs with
a table take `restHandlerModule`), so `additional_packaging.py` points the generated
`bin/ta_defender_endpoint_alerts_rh_settings.py` at this subclass. A CA bundle path
that is missing or holds no PEM certificate is refused with a sentence naming the fix,
instead of failing every run later with a TLS error.
"""

from __future__ import annotations

import import_declare_test  # noqa: F401  (puts the package's lib/ on sys.path)
from splunktaucclib.rest_handler.admin_external import AdminExternalHandler
from splunktaucclib.rest_handler.error import RestError

from mde_alerts.connectivity import ca_bundle_problem


class SettingsHandler(AdminExternalHandler):
    def handleEdit(self, confInfo):  # noqa: N802, N803 (Splunk's names)
        if self.callerArgs.id == "tls":
            problem = ca_bundle_problem(str(self.payload.get("ca_bundle_path") or ""))
            if problem:
                raise RestError(400, f"Not saved: {problem}")
        return super().handleEdit(confInfo)
