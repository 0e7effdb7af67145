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
    raw: str  # the alert's JSON as the API returned it, compact

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


def parse_page(body: Any, time_field: str) -> list[AlertState]:
    """Turn one decoded API answer into alert states, in the API's order."""
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        raise BadPage("the answer has no 'value' list of alerts")
    states = []
    for alert in body["value"]:
        if not isinstance(alert, dict) or not alert.get("id"):
            raise BadPage("an alert in the answer has no 'id'")
        updated_text = alert.get("lastUpdateTime")
        if not updated_text:
            raise BadPage(f"alert {alert['id']} has no lastUpdateTime")
        try:
            updated = parse_instant(updated_text)
            event_text = alert.get(time_field) or updated_text
            event_time = updated if event_text is updated_text else parse_instant(event_text)
        except ValueError as error:
            raise BadPage(f"alert {alert['id']}: {error}") from None
        raw = json.dumps(alert, ensure_ascii=False, separators=(",", ":"))
        states.append(AlertState(str(alert["id"]), updated, event_time, raw))
    return states


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
        self._done = False
        self.pages = 0
        self.states_read = 0
        self.states_new = 0

    def next_query(self) -> Optional[Query]:
        if self._done:
            return None
        instant = format_instant(self._boundary)
        if self._tie_skip is not None:
            return Query(f"lastUpdateTime eq {instant}", self._tie_skip, self._page_size)
        operator = "ge" if self._inclusive else "gt"
        return Query(f"lastUpdateTime {operator} {instant}", 0, self._page_size)

    def take_page(self, states: list[AlertState]) -> list[AlertState]:
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
