"""Defender timestamps as exact instants.

Defender writes up to seven fractional digits and drops trailing zeros
(`2021-01-26T20:33:59.2Z`, `...:44.7733333Z`), so its strings do not sort as text and
a float loses the last digits. Every comparison in the add-on uses integer ticks of
100 ns since the Unix epoch, which is exactly Defender's own resolution.
"""

from __future__ import annotations

import calendar
import re
import time

TICKS_PER_SECOND = 10_000_000
_INSTANT = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$")
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


# Defender's own form, two or three per alert: parsed without the general pattern's work.
_DEFENDER_INSTANT = re.compile(r"(\d{4}-\d{2}-\d{2})T([01]\d|2[0-3]):([0-5]\d):([0-5]\d|60)(?:\.(\d{1,7}))?Z")
_DAY_TICKS: dict[str, int] = {}  # "YYYY-MM-DD" -> ticks at its midnight (a run sees few days)
_FRACTION_SCALE = (0, 1_000_000, 100_000, 10_000, 1_000, 100, 10, 1)


def parse_instant(text: str) -> int:
    """Ticks for an ISO-8601 instant; a missing offset means UTC, as in Defender's API."""
    fast = _DEFENDER_INSTANT.fullmatch(text)
    if fast is not None:
        date, hour, minute, second, fraction = fast.groups()
        day = _DAY_TICKS.get(date)
        if day is None:
            year, month, mday = int(date[:4]), int(date[5:7]), int(date[8:])
            if not (1 <= month <= 12 and 1 <= mday <= 31):
                raise ValueError(f"not a valid date or time: {text!r}")
            day = _DAY_TICKS[date] = calendar.timegm((year, month, mday, 0, 0, 0)) * TICKS_PER_SECOND
        ticks = day + (int(hour) * 3600 + int(minute) * 60 + int(second)) * TICKS_PER_SECOND
        return ticks + int(fraction) * _FRACTION_SCALE[len(fraction)] if fraction else ticks
    match = _INSTANT.match(text.strip())
    if not match:
        date = _DATE.match(text.strip())
        if not date:
            raise ValueError(f"not an ISO-8601 date or time: {text!r}")
        year, month, day = (int(part) for part in date.groups())
        return calendar.timegm((year, month, day, 0, 0, 0)) * TICKS_PER_SECOND
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour <= 23 and minute <= 59 and second <= 60):
        raise ValueError(f"not a valid date or time: {text!r}")
    fraction = (match.group(7) or "").ljust(7, "0")[:7]
    ticks = calendar.timegm((year, month, day, hour, minute, second)) * TICKS_PER_SECOND + int(fraction)
    offset = match.group(8)
    if offset and offset != "Z":
        sign = -1 if offset[0] == "+" else 1
        digits = offset[1:].replace(":", "")
        ticks += sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60) * TICKS_PER_SECOND
    return ticks


def format_instant(ticks: int) -> str:
    """The literal Defender's `$filter` accepts: seven fractional digits, UTC."""
    seconds, fraction = divmod(ticks, TICKS_PER_SECOND)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction:07d}Z"


def epoch_text(ticks: int) -> str:
    """Splunk's `<time>`: seconds since the epoch, with the sub-second part it keeps (µs)."""
    seconds, fraction = divmod(ticks, TICKS_PER_SECOND)
    return f"{seconds}.{fraction // 10:06d}"


def now_ticks() -> int:
    return time.time_ns() // 100
