"""A minimal modular input used only to prove the stand-in plumbing end to end.

Why this file exists: the launcher's promise is "run a packaged input exactly as splunkd
does, against Microsoft's real hostnames". Before the real add-on exists, this tiny
input walks the same path: splunklib parses the stdin XML, solnlib reads the account
(decrypting the secret from storage/passwords), MSAL gets a token from
login.microsoftonline.com, requests pages through api.security.microsoft.com, and
events go out as splunklib's XML stream. It is NOT the add-on and does nothing clever
(no checkpoint, no retries). ``FAKE_APP_DELAY`` slows it down per event so a test can
kill it mid-stream; ``FAKE_APP_RESOLVE`` makes it resolve one extra hostname.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from urllib.parse import urlsplit

import msal
import requests
from solnlib import conf_manager
from splunklib import modularinput as smi

APP = "TA-defender-endpoint-alerts"
CONF = "ta_defender_endpoint_alerts_account"


class Input(smi.Script):  # type: ignore[misc]
    def get_scheme(self) -> smi.Scheme:
        scheme = smi.Scheme("defender_endpoint_alerts")
        scheme.add_argument(smi.Argument("account"))
        return scheme

    def stream_events(self, inputs: smi.InputDefinition, ew: smi.EventWriter) -> None:
        uri = urlsplit(inputs.metadata["server_uri"])
        key = inputs.metadata["session_key"]
        delay = float(os.environ.get("FAKE_APP_DELAY", "0"))
        if os.environ.get("FAKE_APP_RESOLVE"):
            try:
                socket.getaddrinfo(os.environ["FAKE_APP_RESOLVE"], 443)
            except OSError as e:
                ew.log("WARN", f"resolve failed: {e}")
        for stanza, params in inputs.inputs.items():
            cfm = conf_manager.ConfManager(
                key,
                APP,
                realm=f"__REST_CREDENTIAL__#{APP}#configs/conf-{CONF}",
                scheme=uri.scheme,
                host=uri.hostname,
                port=uri.port,
            )
            acct = cfm.get_conf(CONF).get(params["account"])
            app = msal.ConfidentialClientApplication(
                acct["client_id"],
                client_credential=acct["client_secret"],
                authority=f"https://login.microsoftonline.com/{acct['tenant_id']}",
            )
            tok = app.acquire_token_for_client(scopes=["https://api.securitycenter.microsoft.com/.default"])
            if "access_token" not in tok:
                ew.log("ERROR", json.dumps(tok))
                continue
            session = requests.Session()
            session.headers["Authorization"] = "Bearer " + tok["access_token"]
            skip = 0
            for _ in range(1000):
                r = session.get(
                    "https://api.security.microsoft.com/api/alerts",
                    params={
                        "$orderby": "lastUpdateTime asc",
                        "$top": params.get("page_size", "1000"),
                        "$skip": str(skip),
                        "$expand": "evidence",
                    },
                    timeout=30,
                )
                r.raise_for_status()
                page = r.json()["value"]
                for alert in page:
                    ew.write_event(
                        smi.Event(
                            data=json.dumps(alert),
                            stanza=stanza,
                            sourcetype="ms:defender:atp:alerts",
                            source=stanza,
                            index=params.get("index"),
                        )
                    )
                    if delay:
                        time.sleep(delay)
                if len(page) < int(params.get("page_size", "1000")):
                    break
                skip += len(page)


if __name__ == "__main__":
    sys.exit(Input().run(sys.argv))
