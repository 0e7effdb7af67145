"""Read Defender alert files in the shapes they are published in and turn each alert into the event the input writes.

The real samples in tests/data/samples come in three shapes: an OData list response
(``{"@odata.context": ..., "value": [...]}``), Elastic's regrouped test input (``{"value": [...]}``
without the context) and a single alert object (the security_content example). Users of
``make cim-preview`` may also pass a JSON array or one alert per line. Every alert becomes one
event exactly as the modular input writes it: compact JSON of the alert object alone
(``package/bin/mde_alerts/collector.py``: ``json.dumps(alert, ensure_ascii=False, separators=(",", ":"))``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLES_DIR = REPO_ROOT / "tests" / "data" / "samples"
SOURCETYPE = "ms:defender:atp:alerts"
# The fields props.conf computes for the CIM Alerts data model (beyond the raw ones).
MAPPED_FIELDS = (
    "app",
    "dest",
    "dest_type",
    "mitre_technique_id",
    "severity",
    "severity_id",
    "signature",
    "signature_id",
    "src",
    "type",
    "user",
    "user_name",
    "vendor",
    "vendor_account",
    "vendor_product",
)

Alert = dict[str, Any]


def compact(alert: Alert) -> str:
    """The event text the modular input writes for an alert."""
    return json.dumps(alert, ensure_ascii=False, separators=(",", ":"))


def _as_alert(item: object, origin: str) -> Alert:
    if not isinstance(item, dict) or "id" not in item:
        raise ValueError(f"{origin}: not an alert object (a JSON object with an 'id'): {str(item)[:80]}")
    return item


def alerts_in_document(document: object, origin: str) -> list[Alert]:
    """The alerts of one parsed JSON document: a list response, a single alert or an array."""
    if isinstance(document, dict) and "value" in document and "id" not in document:
        items = document["value"]
        if not isinstance(items, list):
            raise ValueError(f"{origin}: 'value' is not a list")
        return [_as_alert(item, origin) for item in items]
    if isinstance(document, list):
        return [_as_alert(item, origin) for item in document]
    return [_as_alert(document, origin)]


def load_alert_file(path: Path) -> list[Alert]:
    """Every alert in a file: one JSON document of any shape above, or one alert per line."""
    text = path.read_text(encoding="utf-8")
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        lines = [line for line in text.splitlines() if line.strip()]
        if len(lines) < 2:
            raise
        alerts: list[Alert] = []
        for number, line in enumerate(lines, start=1):
            alerts.extend(alerts_in_document(json.loads(line), f"{path}:{number}"))
        return alerts
    return alerts_in_document(document, str(path))


def sample_files() -> list[Path]:
    """The real alert samples kept in the repository."""
    return sorted(SAMPLES_DIR.glob("*.json"))


def sample_alerts() -> list[tuple[str, Alert]]:
    """(file name, alert) for every alert of every sample file."""
    return [(path.name, alert) for path in sample_files() for alert in load_alert_file(path)]
