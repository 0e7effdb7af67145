"""`splunk.util`: the two helpers cim_actions uses."""

from __future__ import annotations

import calendar
import time
from typing import Any


def mktimegm(t: time.struct_time) -> int:
    return calendar.timegm(t)


def normalizeBoolean(value: Any, enableStrictMode: bool = False, includeIntegers: bool = True) -> Any:  # noqa: N802, N803
    """Splunk's: true/false words (and 1/0) become bools, anything else comes back unchanged."""
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "t", "yes", "y", "on") or (includeIntegers and lowered == "1"):
            return True
        if lowered in ("false", "f", "no", "n", "off") or (includeIntegers and lowered == "0"):
            return False
        if enableStrictMode:
            raise ValueError(f"Unable to cast value to boolean: {value}")
    return value
