"""Test an account on save: get a token, then ask Defender for one alert.

Run by the account REST handler before anything is stored, so that a wrong tenant,
client ID, secret, consent, permission, cloud or proxy is reported in the form with
its fix, not discovered by an input at 3 a.m.
"""

from __future__ import annotations

import json
import os
import ssl
import time
from typing import Optional

from mde_alerts.defender_api import ALERTS_PATH, Connection, DefenderClient, TransientError
from mde_alerts.splunk_config import Account

CHECK_SECONDS = 45


def check_account(account: Account, connection: Connection) -> None:
    """Raise ConfigError (or TransientError) with a sentence that names the fix."""
    client = DefenderClient(account.cloud, account.tenant_id, account.credential, connection)
    client.deadline = time.monotonic() + CHECK_SECONDS
    client.token()
    try:
        response = client.open(account.cloud.api_base + ALERTS_PATH, {"$top": 1})
        json.loads(response.content)
    except ValueError:
        raise TransientError("Defender answered with something that is not JSON; try again in a few minutes.") from None
    except TransientError as error:
        raise TransientError(f"{error} The account was not saved; try again in a few minutes.") from None


def ca_bundle_problem(path: str) -> Optional[str]:
    """What is wrong with a CA bundle path typed on the TLS tab, as a sentence with the fix; None if usable.

    The input hands the path to requests as `verify=`; a file that is missing or holds no
    PEM certificate would only fail later, at every run, with a TLS error.
    """
    path = path.strip()
    if not path:
        return None
    if not os.path.isabs(path):
        return f"CA bundle path {path!r} is not absolute: give the full path of the PEM file on this Splunk server."
    if not os.path.isfile(path):
        return f"CA bundle file {path} does not exist on this Splunk server: copy the PEM file there, or fix the path."
    try:
        ssl.create_default_context(cafile=path)
    except (OSError, ssl.SSLError, ValueError) as error:
        return (
            f"CA bundle file {path} cannot be used ({type(error).__name__}): it must be readable by splunkd and "
            "hold PEM certificates (-----BEGIN CERTIFICATE-----)."
        )
    return None
