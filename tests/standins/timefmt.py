"""Defender's timestamps as integers of 100 ns ticks, and back.

Why this file exists: Defender for Endpoint stores alert times with .NET's 100 ns
resolution and prints them with up to seven fractional digits, *dropping trailing
zeros* (``...:59.2Z``, ``...:44.7733333Z``, whole seconds as ``...:59Z``). A collector
that compares these strings, or that keeps only milliseconds, loses or repeats
alerts whose times differ below that precision. The stand-in therefore keeps every
time as an integer count of 100 ns ticks since the Unix epoch, compares integers,
and formats exactly the way Defender does. Tests can use the same helpers to build
expectations.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone

TICKS_PER_SECOND = 10_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# .NET DateTime ticks count from 0001-01-01; Defender alert ids start with them ("da637...").
DOTNET_EPOCH_OFFSET_TICKS = 621_355_968_000_000_000

# OData v4 DateTimeOffset literal: seconds optional, 1-7 fractional digits (.NET keeps 7;
# more than that is refused here, as the stand-in's modelling of "invalid literal").
_ODATA_DT = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?(Z|[+-]\d{2}:\d{2})$")
# What alert JSON carries (always with seconds; samples show 2 to 7 fractional digits).
_JSON_DT = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?(Z|[+-]\d{2}:\d{2})$")


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm; fast)."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _to_ticks(m: re.Match[str]) -> int:
    year, month, day, hour, minute = int(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(4)), int(m.group(5))
    second = int(m.group(6) or 0)
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 60):
        raise ValueError(f"field out of range in {m.group(0)!r}")
    if day > 28:
        datetime(year, month, day)  # raises ValueError for 2024-02-30 and the like
    frac = m.group(7)
    seconds = _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
    tz = m.group(8)
    if tz != "Z":
        offset = int(tz[1:3]) * 3600 + int(tz[4:6]) * 60
        seconds -= offset if tz[0] == "+" else -offset
    return seconds * TICKS_PER_SECOND + (int(frac.ljust(7, "0")) if frac else 0)


def parse_odata_datetime(text: str) -> int:
    """Parse an unquoted OData DateTimeOffset literal into ticks; ValueError if invalid."""
    m = _ODATA_DT.match(text)
    if not m:
        raise ValueError(f"not an OData DateTimeOffset literal: {text!r}")
    return _to_ticks(m)


def parse_ticks(text: str) -> int:
    """Parse an ISO-8601 timestamp as Defender prints it (1-7 fractional digits) into ticks."""
    m = _JSON_DT.match(text)
    if not m:
        raise ValueError(f"not a Defender timestamp: {text!r}")
    return _to_ticks(m)


def format_ticks(ticks: int) -> str:
    """Format ticks the way Defender does: up to 7 fractional digits, trailing zeros dropped."""
    seconds, frac = divmod(ticks, TICKS_PER_SECOND)
    t = time.gmtime(seconds)
    base = f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
    if frac == 0:
        return base + "Z"
    return base + "." + f"{frac:07d}".rstrip("0") + "Z"


def ticks_from_datetime(dt: datetime) -> int:
    """Ticks of an aware datetime (naive datetimes are taken as UTC); microsecond precision."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    delta = dt - _EPOCH
    return (delta.days * 86400 + delta.seconds) * TICKS_PER_SECOND + delta.microseconds * 10


def datetime_from_ticks(ticks: int) -> datetime:
    """Aware UTC datetime for ticks (sub-microsecond digits are truncated: datetime can't hold them)."""
    seconds, frac = divmod(ticks, TICKS_PER_SECOND)
    return _EPOCH + timedelta(seconds=seconds, microseconds=frac // 10)


def ticks_from_epoch(seconds: float) -> int:
    """Ticks for a Unix time in seconds (float precision, fine for server-side clocks)."""
    return int(round(seconds * TICKS_PER_SECOND))


def to_ticks(value: int | float | str | datetime) -> int:
    """Accept ticks (int), a Defender/OData timestamp string, or a datetime."""
    if isinstance(value, bool):
        raise TypeError("bool is not a time")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        raise TypeError("pass ticks as int, or a datetime/str; floats are ambiguous")
    if isinstance(value, datetime):
        return ticks_from_datetime(value)
    return parse_ticks(value)
