"""Defender timestamps: up to 7 fractional digits, trailing zeros dropped, always UTC."""

from __future__ import annotations

import random
import time

import pytest

from mde_alerts.timeutil import epoch_text, format_instant, parse_instant


@pytest.mark.parametrize(
    "text, ticks",
    [
        ("1970-01-01T00:00:00Z", 0),
        ("1970-01-01T00:00:01.2Z", 12_000_000),
        ("1970-01-01T00:00:00.7733333Z", 7_733_333),
        ("1970-01-01T00:00:00.0000001Z", 1),
        ("1970-01-01T01:00:00+01:00", 0),
        ("1970-01-02", 864_000_000_000),
    ],
)
def test_parse(text: str, ticks: int) -> None:
    assert parse_instant(text) == ticks


def test_round_trip_keeps_every_digit() -> None:
    text = "2024-03-01T10:00:44.7733333Z"
    assert format_instant(parse_instant(text)) == text
    assert epoch_text(parse_instant(text)) == "1709287244.773333"


@pytest.mark.parametrize("text", ["", "2024-13-01T00:00:00Z", "yesterday", "2024-01-01T25:00:00Z"])
def test_rejects_what_is_not_an_instant(text: str) -> None:
    with pytest.raises(ValueError):
        parse_instant(text)


def test_defenders_own_form_parses_exactly_as_the_general_form() -> None:
    """The fast path for `YYYY-MM-DDTHH:MM:SS[.f]Z` agrees with the general parser (forced by an offset)."""
    rng = random.Random(5)
    for _ in range(2_000):
        seconds = rng.randrange(0, 4_102_444_800)  # 1970 .. 2100
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randrange(0, 8)))
        base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + (f".{digits}" if digits else "")
        assert parse_instant(base + "Z") == parse_instant(base + "+00:00"), base
    for bad in ("2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z", "2026-01-32T00:00:00Z", "2026-01-01T24:00:00Z"):
        with pytest.raises(ValueError):
            parse_instant(bad)
