"""Defender timestamps: up to 7 fractional digits, trailing zeros dropped, always UTC."""

from __future__ import annotations

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
