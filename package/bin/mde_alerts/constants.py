"""Names shared by the input, the REST handlers and the knowledge objects."""

from __future__ import annotations

APP = "TA-defender-endpoint-alerts"
REST_ROOT = "ta_defender_endpoint_alerts"
ACCOUNT_CONF = f"{REST_ROOT}_account"
SETTINGS_CONF = f"{REST_ROOT}_settings"
INPUT_SCHEME = "defender_endpoint_alerts"
SOURCETYPE = "ms:defender:atp:alerts"
CHECKPOINT_COLLECTION = f"{REST_ROOT}_checkpoints"
CHECKPOINT_FIELDS = {"state": "string"}  # as package/default/collections.conf declares them
LOG_NAMESPACE = APP.lower()


def credential_realm(conf_name: str) -> str:
    """The storage/passwords realm where UCC keeps a conf file's encrypted fields."""
    return f"__REST_CREDENTIAL__#{APP}#configs/conf-{conf_name}"
