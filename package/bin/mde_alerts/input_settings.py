"""An input's parameters, checked once, with messages that say how to fix them.

Used twice: by `--validate-arguments` when an admin saves the input form, and at the
start of every run (an inputs.conf edited by hand skips the form).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mde_alerts.timeutil import TICKS_PER_SECOND, format_instant, now_ticks, parse_instant

DAY_TICKS = 86_400 * TICKS_PER_SECOND
RETENTION_DAYS = 180  # Defender keeps alerts for 180 days
DEFAULT_START_DAYS = 7
DEFAULT_PAGE_SIZE = 10_000
MAX_PAGE_SIZE = 10_000  # the API's $top limit
MIN_PAGE_SIZE = 100
TIME_FIELDS = ("lastUpdateTime", "alertCreationTime")
CHECKPOINT_STORES = ("kvstore", "file")


class InvalidSetting(ValueError):
    pass


@dataclass(frozen=True)
class InputSettings:
    account: str
    index: str
    start: int  # ticks
    include_evidence: bool
    time_field: str
    checkpoint_store: str
    page_size: int
    interval: int


def _flag(value: object, default: bool) -> bool:
    if value is None or str(value).strip() == "":
        return default
    return str(value).strip().lower() in ("1", "true", "yes", "t", "y", "on")


def parse_start(text: str, now: int) -> int:
    text = (text or "").strip()
    oldest = now - RETENTION_DAYS * DAY_TICKS
    if text == "":
        return now - DEFAULT_START_DAYS * DAY_TICKS
    if text.isdigit():
        days = int(text)
        if not 1 <= days <= RETENTION_DAYS:
            raise InvalidSetting(
                f"Start: {days} days is outside 1 to {RETENTION_DAYS}; Defender keeps alerts for {RETENTION_DAYS} days."
            )
        return now - days * DAY_TICKS
    try:
        start = parse_instant(text)
    except ValueError:
        raise InvalidSetting(
            f"Start {text!r} is neither a number of days nor an ISO-8601 date: "
            "use e.g. 7, 2026-01-31 or 2026-01-31T08:00:00Z."
        ) from None
    if start > now:
        raise InvalidSetting(f"Start {text!r} is in the future: use a past date, or a number of days.")
    if start < oldest:
        raise InvalidSetting(
            f"Start {text!r} is more than {RETENTION_DAYS} days ago, beyond Defender's retention: "
            f"use a date after {format_instant(oldest)[:10]}."
        )
    return start


def _integer(params: Mapping[str, object], name: str, label: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None or str(raw).strip() == "":
        return default
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise InvalidSetting(f"{label} must be a whole number from {low} to {high}, not {raw!r}.") from None
    if not low <= value <= high:
        raise InvalidSetting(f"{label} must be from {low} to {high}, not {value}.")
    return value


def parse_input(params: Mapping[str, object], now: int | None = None) -> InputSettings:
    now = now_ticks() if now is None else now
    account = str(params.get("account") or "").strip()
    if not account:
        raise InvalidSetting("Account is missing: pick the tenant account this input collects from.")
    time_field = str(params.get("time_field") or "lastUpdateTime")
    if time_field not in TIME_FIELDS:
        raise InvalidSetting(f"Event time from must be one of {', '.join(TIME_FIELDS)}, not {time_field!r}.")
    store = str(params.get("checkpoint_store") or "kvstore")
    if store not in CHECKPOINT_STORES:
        raise InvalidSetting(f"Checkpoint store must be kvstore or file, not {store!r}.")
    return InputSettings(
        account=account,
        index=str(params.get("index") or "default"),
        start=parse_start(str(params.get("start") or ""), now),
        include_evidence=_flag(params.get("include_evidence"), True),
        time_field=time_field,
        checkpoint_store=store,
        page_size=_integer(params, "page_size", "Page size", DEFAULT_PAGE_SIZE, MIN_PAGE_SIZE, MAX_PAGE_SIZE),
        interval=_integer(params, "interval", "Interval", 300, 60, 86_400),
    )
