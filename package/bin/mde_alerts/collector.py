"""Which alert states to ask Defender for next, and which of the answers are new.

This is the add-on's core, kept free of I/O so it can be tested as a pure function of
(checkpoint, pages of alerts) -> (alert states to write, next checkpoint).

Defender's `GET /api/alerts` documents no `@odata.nextLink`, so the collector walks a
time boundary instead: `lastUpdateTime ge B`, ascending, `$top` N. After a full page
whose last state is at T > B, the next page starts at `ge T` (the states at T already
written are recognised and dropped). When a whole page shares one timestamp, `ge T`
would return the same page forever, so the collector pages through that single
instant with `eq T` and `$skip` (a fixed window, where `$skip` is stable), then goes on
with `gt T`.

Every run starts `OVERLAP` before the checkpoint to catch states that Defender makes
visible late; the checkpoint remembers which states inside that window were written,
so nothing is written twice.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Optional

from mde_alerts.timeutil import TICKS_PER_SECOND, format_instant, parse_instant

CHECKPOINT_VERSION = 1
OVERLAP_TICKS = 15 * 60 * TICKS_PER_SECOND


class BadPage(Exception):
    """Defender answered something the collector cannot use; nothing of it is written."""


@dataclass(frozen=True)
class AlertState:
    """One alert as of one `lastUpdateTime`: one Splunk event."""

    alert_id: str
    updated: int  # lastUpdateTime, ticks
    event_time: int  # the input's _time field, ticks
    # The alert's JSON as the API returned it is text[start:end]: a page's states share
    # the page's text instead of each holding a copy, which keeps memory at about one
    # page's size however many alerts the page holds.
    text: str = field(repr=False)
    start: int = 0
    end: int = -1

    @property
    def raw(self) -> str:
        return self.text[self.start : self.end] if self.end >= 0 else self.text

    @property
    def key(self) -> str:
        return state_key(self.alert_id, self.updated)


def state_key(alert_id: str, updated: int) -> str:
    # 64-bit digest: compact in the checkpoint, collision odds negligible at these counts.
    return hashlib.blake2b(f"{alert_id}|{updated}".encode(), digest_size=8).hexdigest()


@dataclass
class Checkpoint:
    """What one input remembers between runs."""

    since: Optional[int] = None  # newest lastUpdateTime written, ticks
    seen: dict[str, int] = field(default_factory=dict)  # state key -> lastUpdateTime, inside the overlap
    calls: dict[int, int] = field(default_factory=dict)  # minute (epoch // 60) -> API calls made

    def to_record(self) -> dict[str, Any]:
        return {
            "version": CHECKPOINT_VERSION,
            "since": format_instant(self.since) if self.since is not None else None,
            "seen": self.seen,
            "calls": {str(minute): count for minute, count in self.calls.items()},
        }

    @classmethod
    def from_record(cls, record: Any) -> Checkpoint:
        """Read a stored record; raises ValueError naming what is wrong with it."""
        if isinstance(record, str):
            record = json.loads(record)
        if not isinstance(record, dict):
            raise ValueError(f"expected an object, found {type(record).__name__}")
        version = record.get("version")
        if version != CHECKPOINT_VERSION:
            raise ValueError(f"checkpoint version {version!r}; this add-on reads version {CHECKPOINT_VERSION}")
        since = record.get("since")
        seen = record.get("seen") or {}
        calls = record.get("calls") or {}
        if not isinstance(seen, dict) or not isinstance(calls, dict):
            raise ValueError("'seen' and 'calls' must be objects")
        return cls(
            since=parse_instant(since) if since else None,
            seen={str(key): int(value) for key, value in seen.items()},
            calls={int(minute): int(count) for minute, count in calls.items()},
        )


@dataclass(frozen=True)
class Query:
    filter: str
    skip: int
    top: int
    link: Optional[str] = None  # an @odata.nextLink to fetch as it is, instead of filter/skip/top


_DECODER = json.JSONDecoder()
_SCAN = _DECODER.scan_once  # type: ignore[attr-defined]  # the C scanner json.loads uses
_SPACE = re.compile(r"[ \t\n\r]*")


def _skip(text: str, index: int, expected: str = "") -> int:
    index = _SPACE.match(text, index).end()  # type: ignore[union-attr]
    if expected:
        if text[index : index + 1] != expected:
            raise ValueError(f"expected {expected!r} at offset {index}")
        index = _SPACE.match(text, index + 1).end()  # type: ignore[union-attr]
    return index


@dataclass(frozen=True)
class Page:
    states: list[AlertState]
    next_link: Optional[str] = None  # Defender documents none for alerts; followed if it ever comes


def split_page(text: str, time_field: str) -> Page:
    """The alerts of one API answer, in order, each keeping its exact JSON text.

    The event is the API's own JSON, so it is sliced out of the answer rather than
    rebuilt: json's own scanner walks each alert once, giving both the fields the
    collector needs and where the alert's text ends. Raises ValueError when the
    answer is not JSON (retry-worthy: truncated, or a proxy's HTML page) and BadPage
    when it is JSON but not a list of alerts.
    """
    states: list[AlertState] = []
    next_link: Optional[str] = None
    found_value = False
    try:
        index = _skip(text, 0, "{")
        while text[index : index + 1] != "}":
            key, index = _SCAN(text, index)
            index = _skip(text, index, ":")
            if key != "value":
                value, index = _SCAN(text, index)
                if key == "@odata.nextLink" and isinstance(value, str):
                    next_link = value
            else:
                found_value = True
                if text[index : index + 1] != "[":
                    raise BadPage("the answer's 'value' is not a list of alerts")
                index = _skip(text, index, "[")
                while text[index : index + 1] != "]":
                    alert, end = _SCAN(text, index)
                    if text.find("\n", index, end) < 0:
                        states.append(_state(alert, time_field, text, index, end))
                    else:  # not compact: an event must be one line
                        states.append(_state(alert, time_field, _compact(alert)))
                    index = _skip(text, end)
                    if text[index : index + 1] == ",":
                        index = _skip(text, index + 1)
                index += 1
            index = _skip(text, index)
            if text[index : index + 1] == ",":
                index = _skip(text, index + 1)
        if text[index + 1 :].strip():
            raise ValueError("data after the answer's end")
    except StopIteration as error:  # the scanner's way of saying "no JSON value here"
        raise ValueError(f"not JSON at offset {error.value}") from None
    if not found_value:
        raise BadPage("the answer has no 'value' list of alerts")
    return Page(states, next_link)


def _compact(alert: Any) -> str:
    return json.dumps(alert, ensure_ascii=False, separators=(",", ":"))


def _state(alert: Any, time_field: str, text: str, start: int = 0, end: int = -1) -> AlertState:
    if not isinstance(alert, dict) or not alert.get("id"):
        raise BadPage("an alert in the answer has no 'id'")
    updated_text = alert.get("lastUpdateTime")
    if not updated_text:
        raise BadPage(f"alert {alert['id']} has no lastUpdateTime")
    try:
        updated = parse_instant(updated_text)
        event_text = alert.get(time_field) or updated_text
        event_time = updated if event_text is updated_text else parse_instant(event_text)
    except (ValueError, TypeError) as error:
        raise BadPage(f"alert {alert['id']}: {error}") from None
    return AlertState(str(alert["id"]), updated, event_time, text, start, end)


def parse_page(body: Any, time_field: str) -> list[AlertState]:
    """Alert states from an already decoded answer (used where no raw text exists)."""
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        raise BadPage("the answer has no 'value' list of alerts")
    return [_state(alert, time_field, _compact(alert)) for alert in body["value"]]


class Collection:
    """One run's walk through Defender's alerts, page by page.

    Use: `while (query := c.next_query())`: fetch it, `new = c.take_page(states)`,
    write `new`, then persist `c.checkpoint()`.
    """

    def __init__(self, checkpoint: Checkpoint, start: int, page_size: int, overlap: int = OVERLAP_TICKS) -> None:
        self._page_size = page_size
        self._overlap = overlap
        self._since = checkpoint.since
        self._seen = dict(checkpoint.seen)
        self._calls = dict(checkpoint.calls)
        if checkpoint.since is None:
            self._boundary, self._inclusive = start, True
        else:
            self._boundary, self._inclusive = checkpoint.since - overlap, True
        self._tie_skip: Optional[int] = None  # paging inside one instant when set
        self._next_link: Optional[str] = None
        self._done = False
        self.pages = 0
        self.states_read = 0
        self.states_new = 0

    def next_query(self) -> Optional[Query]:
        if self._done:
            return None
        instant = format_instant(self._boundary)
        if self._next_link:
            return Query("", 0, self._page_size, link=self._next_link)
        if self._tie_skip is not None:
            return Query(f"lastUpdateTime eq {instant}", self._tie_skip, self._page_size)
        operator = "ge" if self._inclusive else "gt"
        return Query(f"lastUpdateTime {operator} {instant}", 0, self._page_size)

    def take_page(self, states: list[AlertState], next_link: Optional[str] = None) -> list[AlertState]:
        """Record one page; return its states that were never written, in order."""
        self.pages += 1
        self.states_read += len(states)
        new = []
        for state in states:
            key = state.key
            if key in self._seen:
                continue
            self._seen[key] = state.updated
            new.append(state)
            if self._since is None or state.updated > self._since:
                self._since = state.updated
        self.states_new += len(new)
        self._next_link = next_link
        if next_link is None:
            self._advance(states)
        return new

    def _advance(self, states: list[AlertState]) -> None:
        full = len(states) >= self._page_size
        if self._tie_skip is not None:
            if full:
                self._tie_skip += len(states)
            else:  # the instant is exhausted: go on after it
                self._tie_skip, self._inclusive = None, False
            return
        if not full:
            self._done = True
            return
        first = min(state.updated for state in states)
        last = max(state.updated for state in states)
        self._boundary, self._inclusive = last, True
        if first == last:  # a whole page at one instant: page through it with $skip
            self._tie_skip = len(states)

    def checkpoint(self) -> Checkpoint:
        """The checkpoint to store once every state returned so far is written."""
        horizon = (self._since or 0) - self._overlap
        seen = {key: updated for key, updated in self._seen.items() if updated >= horizon}
        return Checkpoint(since=self._since, seen=seen, calls=dict(self._calls))

    def count_call(self, minute: int) -> None:
        self._calls[minute] = self._calls.get(minute, 0) + 1
        for old in [m for m in self._calls if m <= minute - 60]:
            del self._calls[old]

    def calls_in_last(self, minutes: int, now_minute: int) -> int:
        return sum(count for minute, count in self._calls.items() if minute > now_minute - minutes)
