"""Test an account on save: get a token, then ask Defender for one alert.

Run by the account REST handler before anything is stored, so that a wrong tenant,
client ID, secret, consent, permission, cloud or proxy is reported in the form with
its fix, not discovered by an input at 3 a.m.
"""

from __future__ import annotations

import json
import time

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
