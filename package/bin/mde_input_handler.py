"""REST handler for the Defender alerts input: deleting an input deletes its checkpoint.

Otherwise a new input created later under the same name would silently resume from
the old one's position and skip everything before it.
"""

from __future__ import annotations

import contextlib

import import_declare_test  # noqa: F401  (puts the package's lib/ on sys.path)
from solnlib import splunkenv
from splunktaucclib.rest_handler.admin_external import AdminExternalHandler, get_splunkd_endpoint

from mde_alerts.checkpoint_store import FileCheckpoints, KVStoreCheckpoints, StoreUnavailable
from mde_alerts.constants import INPUT_SCHEME
from mde_alerts.splunk_config import Splunkd


class InputHandler(AdminExternalHandler):
    def handleRemove(self, confInfo):  # noqa: N802, N803 (Splunk's names)
        name = self.callerArgs.id
        result = super().handleRemove(confInfo)
        checkpoint_dir = splunkenv.make_splunkhome_path(["var", "lib", "splunk", "modinputs", INPUT_SCHEME])
        FileCheckpoints(checkpoint_dir).delete(name)
        with contextlib.suppress(StoreUnavailable):  # no KV store here: the input used the file store
            KVStoreCheckpoints(Splunkd.from_server_uri(get_splunkd_endpoint(), self.getSessionKey())).delete(name)
        return result
