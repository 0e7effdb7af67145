"""Input form validation: every field, with a message that says how to fix it."""

from __future__ import annotations

import pytest

from mde_alerts.input_settings import DAY_TICKS, InvalidSetting, parse_input
from mde_alerts.timeutil import parse_instant

NOW = parse_instant("2026-11-22T12:00:00Z")


def test_defaults() -> None:
    settings = parse_input({"account": "contoso"}, NOW)
    assert settings.start == NOW - 7 * DAY_TICKS
    assert (settings.page_size, settings.include_evidence, settings.time_field) == (10_000, True, "lastUpdateTime")
    assert settings.checkpoint_store == "kvstore"


def test_start_as_days_or_date() -> None:
    assert parse_input({"account": "a", "start": "30"}, NOW).start == NOW - 30 * DAY_TICKS
    assert parse_input({"account": "a", "start": "2026-11-01"}, NOW).start == parse_instant("2026-11-01T00:00:00Z")


@pytest.mark.parametrize(
    "params, fix",
    [
        ({}, "pick the tenant account"),
        ({"account": "a", "start": "181"}, "outside 1 to 180"),
        ({"account": "a", "start": "2025-01-01"}, "beyond Defender's retention"),
        ({"account": "a", "start": "2027-01-01"}, "in the future"),
        ({"account": "a", "start": "last week"}, "ISO-8601"),
        ({"account": "a", "page_size": "20000"}, "from 100 to 10000"),
        ({"account": "a", "page_size": "many"}, "whole number"),
        ({"account": "a", "interval": "10"}, "from 60 to 86400"),
        ({"account": "a", "time_field": "firstEventTime"}, "lastUpdateTime, alertCreationTime"),
        ({"account": "a", "checkpoint_store": "redis"}, "kvstore or file"),
    ],
)
def test_bad_values_name_the_fix(params: dict[str, str], fix: str) -> None:
    with pytest.raises(InvalidSetting, match=fix):
        parse_input(params, NOW)
