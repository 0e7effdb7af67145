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

Defender does not document `$orderby`, so every page's order is checked; a full page
out of order switches the run to closed time windows (see `Collection`).

Every run starts `OVERLAP` before the checkpoint to catch states that Defender makes
visible late; the checkpoint remembers which states inside that window were written,
so nothing is written twice.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Optional

from mde_alerts.timeutil import TICKS_PER_SECOND, format_instant, parse_instant
from mde_alerts.xml10 import xml_safe_json

CHECKPOINT_VERSION = 1
OVERLAP_TICKS = 15 * 60 * TICKS_PER_SECOND


class BadPage(Exception):
    """Defender answered something the collector cannot use; the run stops at it (what came before is kept)."""


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
    link: Optional[str] = None  # an @odata.nextLink to fetch as it is, instead of filter/skip/top


_SCAN = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # the C scanner json.loads uses
_SPACE = re.compile(r"[ \t\n\r]*")
CHUNK_BYTES = 1 << 20


class PageReader:
    """The alerts of one API answer, parsed as its bytes arrive, in order.

    A page of 10,000 alerts is tens of MB; holding it whole (bytes, then text, then
    objects) would cost several times that. This walks the answer with json's own C
    scanner one alert at a time over a small window of decoded text, so memory stays
    at about one chunk however large the page. Each alert's event is the API's own JSON
    text, sliced out rather than rebuilt.

    Iterating raises ValueError when the answer is cut short or is not JSON (worth
    asking again: a reset or a proxy's error page) and BadPage when it is JSON but not
    a list of alerts. `next_link` is known once iteration has finished.
    """

    def __init__(self, chunks: Iterable[bytes], time_field: str) -> None:
        self._chunks = iter(chunks)
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._time_field = time_field
        self._buf = ""
        self._pos = 0
        self._eof = False
        self.next_link: Optional[str] = None

    def _more(self) -> bool:
        """Append the next chunk's text to the window (dropping what was consumed)."""
        if self._eof:
            return False
        for chunk in self._chunks:
            text = self._decoder.decode(chunk)
            if text:
                self._buf = self._buf[self._pos :] + text
                self._pos = 0
                return True
        self._buf = self._buf[self._pos :] + self._decoder.decode(b"", final=True)
        self._pos = 0
        self._eof = True
        return False

    def _peek(self) -> str:
        while True:
            self._pos = _SPACE.match(self._buf, self._pos).end()  # type: ignore[union-attr]
            if self._pos < len(self._buf) or not self._more():
                return self._buf[self._pos : self._pos + 1]

    def _expect(self, char: str) -> None:
        found = self._peek()
        if found != char:
            raise ValueError(f"expected {char!r}, found {found or 'the end'!r}")
        self._pos += 1

    def _value(self) -> tuple[Any, int, int]:
        """One JSON value at the current position: (value, start, end) in the window."""
        self._peek()
        while True:
            start = self._pos
            try:
                value, end = _SCAN(self._buf, start)
                # A value that reaches the window's end may continue (a number, say).
                if end < len(self._buf) or self._eof:
                    self._pos = end
                    return value, start, end
            except StopIteration:
                if self._eof:
                    raise ValueError(f"not JSON at offset {start}") from None
            except ValueError:
                if self._eof:
                    raise
            self._more()

    def __iter__(self) -> Iterator[AlertState]:
        found_value = False
        self._expect("{")
        if self._peek() == "}":
            self._pos += 1
        else:
            while True:
                key, _, _ = self._value()
                self._expect(":")
                if key == "value":
                    found_value = True
                    if self._peek() != "[":
                        raise BadPage("the answer's 'value' is not a list of alerts")
                    yield from self._alerts()
                else:
                    value, _, _ = self._value()
                    if key == "@odata.nextLink" and isinstance(value, str):
                        self.next_link = value
                separator = self._peek()
                self._pos += 1
                if separator == "}":
                    break
                if separator != ",":
                    raise ValueError(f"expected ',' or '}}', found {separator or 'the end'!r}")
        if self._peek():
            raise ValueError("data after the answer's end")
        if not found_value:
            raise BadPage("the answer has no 'value' list of alerts")

    def _alerts(self) -> Iterator[AlertState]:
        self._expect("[")
        if self._peek() == "]":
            self._pos += 1
            return
        while True:
            alert, start, end = self._value()
            raw = self._buf[start:end]
            yield _state(alert, self._time_field, raw if "\n" not in raw else _compact(alert))
            separator = self._peek()
            self._pos += 1
            if separator == "]":
                return
            if separator != ",":
                raise ValueError(f"expected ',' or ']', found {separator or 'the end'!r}")


@dataclass(frozen=True)
class Page:
    states: list[AlertState]
    next_link: Optional[str] = None  # Defender documents none for alerts; followed if it ever comes

    def __iter__(self) -> Iterator[AlertState]:
        return iter(self.states)


def split_page(text: str, time_field: str) -> Page:
    """A whole answer at once (tests, small answers): the same parser as streaming."""
    reader = PageReader([text.encode("utf-8")], time_field)
    states = list(reader)
    return Page(states, reader.next_link)


def _compact(alert: Any) -> str:
    # Re-serialising turns escapes such as "\ud800" into raw lone surrogates: escape them again.
    return xml_safe_json(json.dumps(alert, ensure_ascii=False, separators=(",", ":")))


def _state(alert: Any, time_field: str, raw: str) -> AlertState:
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
    return AlertState(str(alert["id"]), updated, event_time, raw)


CHECKPOINT_EVERY_EVENTS = 1_000
CHECKPOINT_EVERY_SECONDS = 2.0


def checkpoint_batches(
    states: Iterable[AlertState],
    max_events: int = CHECKPOINT_EVERY_EVENTS,
    max_seconds: float = CHECKPOINT_EVERY_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Iterator[AlertState]]:
    """Cut a stream of states into batches, each to be written and then checkpointed.

    A batch ends after `max_events` states or once `max_seconds` have passed since its
    first, whichever comes first, so what a hard kill can make the input send again stays
    small whatever the page size. Each batch reads from the stream itself (consume it
    whole before asking for the next): a state is handed on as it arrives, never held
    back, so a page that breaks off midway has written every state it yielded.
    """
    source = iter(states)
    for first in source:
        yield _batch(first, source, max_events, max_seconds, clock)


def _batch(
    first: AlertState,
    source: Iterator[AlertState],
    max_events: int,
    max_seconds: float,
    clock: Callable[[], float],
) -> Iterator[AlertState]:
    started = clock()
    yield first
    for _ in range(max_events - 1):
        if clock() - started >= max_seconds:
            return
        state = next(source, None)
        if state is None:
            return
        yield state


class Collection:
    """One run's walk through Defender's alerts, page by page.

    Use: `while (query := c.next_query())`: fetch it, write each state that
    `c.take_page(page)` yields as it yields it, and persist `c.checkpoint()` once
    what was yielded is written: at the page's end, or partway through it (its
    `since` never passes a state the collector has not seen).

    Defender does not document `$orderby`. If a full page comes back out of order, it
    holds some states of the window, not the oldest ones, so moving the boundary to its
    newest state would skip the rest. From then on the run pages closed windows
    (`ge A and lt B`), halving a window while its page comes back full, so that each
    piece is read whole whatever the order; the checkpoint only moves over windows
    that are complete.
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
        self._in_order = True  # the page being read has come in lastUpdateTime order so far
        # Once Defender ignored $orderby: windows [low, high) still to read (high None: open),
        # the oldest last; every state before the oldest window's low has been yielded.
        self._windows: Optional[list[tuple[int, Optional[int]]]] = None
        self.pages = 0
        self.states_read = 0
        self.states_new = 0

    @property
    def orderby_ignored(self) -> bool:
        """True once a full page came back out of lastUpdateTime order (the run pages by windows)."""
        return self._windows is not None

    def next_query(self) -> Optional[Query]:
        if self._done:
            return None
        if self._next_link:
            return Query("", 0, self._page_size, link=self._next_link)
        if self._windows is not None:
            low, high = self._windows[-1]
            if self._tie_skip is not None:
                return Query(f"lastUpdateTime eq {format_instant(low)}", self._tie_skip, self._page_size)
            text = f"lastUpdateTime ge {format_instant(low)}"
            if high is not None:
                text += f" and lastUpdateTime lt {format_instant(high)}"
            return Query(text, 0, self._page_size)
        instant = format_instant(self._boundary)
        if self._tie_skip is not None:
            return Query(f"lastUpdateTime eq {instant}", self._tie_skip, self._page_size)
        operator = "ge" if self._inclusive else "gt"
        return Query(f"lastUpdateTime {operator} {instant}", 0, self._page_size)

    def take_page(self, page: Iterable[AlertState]) -> Iterator[AlertState]:
        """Yield the page's states that were never written, in order, as they arrive.

        Once the page is exhausted, its states and its `next_link` (if the page has
        one) decide the next query. A page that breaks off midway leaves the boundary
        where it was; what it yielded is remembered, so asking again writes nothing twice.
        """
        self.pages += 1
        self._in_order = True
        count = 0
        first: Optional[int] = None
        last: Optional[int] = None
        for state in page:
            count += 1
            updated = state.updated
            if last is None or updated > last:
                last = updated
            elif updated < last:
                self._in_order = False
            if first is None or updated < first:
                first = updated
            key = state.key
            if key in self._seen:
                continue
            self._seen[key] = updated
            if self._since is None or updated > self._since:
                self._since = updated
            self.states_new += 1
            yield state
        self.states_read += count
        self._next_link = getattr(page, "next_link", None)
        if self._next_link is not None:
            return
        if self._windows is not None:
            self._advance_window(count, last)
        else:
            self._advance(count, first, last)

    def _lower_bound(self) -> int:
        """The oldest lastUpdateTime the next query can return."""
        if self._windows:
            return self._windows[-1][0]
        return self._boundary if self._inclusive else self._boundary + 1

    def _advance(self, count: int, first: Optional[int], last: Optional[int]) -> None:
        full = count >= self._page_size
        if self._tie_skip is not None:
            if full:
                self._tie_skip += count
            else:  # the instant is exhausted: go on after it
                self._tie_skip, self._inclusive = None, False
            return
        if not full or first is None or last is None:
            self._in_order = True  # a page that is not full held every state left, in whatever order
            self._done = True
            return
        if not self._in_order:
            self._windows = [(self._lower_bound(), None)]
            self._split_full_window(last)
            return
        self._boundary, self._inclusive = last, True
        if first == last:  # a whole page at one instant: page through it with $skip
            self._tie_skip = count
        self._forget_before(min(self._boundary, (self._since or 0) - self._overlap))

    def _advance_window(self, count: int, newest: Optional[int]) -> None:
        assert self._windows is not None
        full = count >= self._page_size
        if full and self._tie_skip is not None:
            self._tie_skip += count
            return
        if full and newest is not None:
            self._split_full_window(newest)
            return
        self._tie_skip = None
        self._windows.pop()  # read whole: complete
        if not self._windows:
            self._done = True
            return
        self._forget_before(min(self._lower_bound(), self._checkpoint_since() - self._overlap))

    def _split_full_window(self, newest: int) -> None:
        """The oldest window's page came back full: read it in smaller pieces, oldest first."""
        assert self._windows is not None
        low, high = self._windows.pop()
        if high is None:  # open-ended: what lies after the newest state seen is a window of its own
            high = newest + 1
            self._windows.append((high, None))
        if high - low <= 1:  # one instant with more states than a page: $skip inside it (stable)
            self._windows.append((low, high))
            self._tie_skip = 0
            return
        middle = low + (high - low) // 2
        self._windows.append((middle, high))
        self._windows.append((low, middle))

    def _checkpoint_since(self) -> int:
        """The newest written state such that every state before it has been yielded."""
        since = self._since or 0
        if self._windows is None and self._in_order:
            return since
        if self._windows is not None and not self._windows:
            return since
        return min(since, self._lower_bound())

    @property
    def remembered(self) -> int:
        """How many written states this run still remembers (for tests and memory checks)."""
        return len(self._seen)

    def _forget_before(self, instant: int) -> None:
        """Drop states no query of this run can return again and the checkpoint does not keep:
        memory stays at about a page's worth however long the backlog."""
        if len(self._seen) > self._page_size:
            self._seen = {key: updated for key, updated in self._seen.items() if updated >= instant}

    def checkpoint(self) -> Checkpoint:
        """The checkpoint to store once every state returned so far is written.

        Its `since` never passes a state not yet seen: with pages out of order it stays
        at the oldest window still to read, and `seen` remembers what was written beyond.
        """
        since = None if self._since is None else self._checkpoint_since()
        horizon = (since or 0) - self._overlap
        seen = {key: updated for key, updated in self._seen.items() if updated >= horizon}
        return Checkpoint(since=since, seen=seen, calls=dict(self._calls))

    def count_call(self, minute: int) -> None:
        self._calls[minute] = self._calls.get(minute, 0) + 1
        for old in [m for m in self._calls if m <= minute - 60]:
            del self._calls[old]

    def calls_in_last(self, minutes: int, now_minute: int) -> int:
        return sum(count for minute, count in self._calls.items() if minute > now_minute - minutes)
