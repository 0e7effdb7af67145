"""The collector loses nothing when Defender ignores `$orderby` (pages in storage order, not by time)."""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from mde_alerts.collector import OVERLAP_TICKS, AlertState, Checkpoint, Collection, Query, split_page
from mde_alerts.timeutil import TICKS_PER_SECOND, parse_instant
from tests.unit.test_collector import BASE, alert, run

SECOND = TICKS_PER_SECOND
_COMPARISON = re.compile(r"lastUpdateTime (ge|gt|lt|eq) (\S+)")


@dataclass(frozen=True)
class Stored:
    """An alert as the stand-in store holds it: its time and its place in storage order."""

    updated: int
    rank: bytes
    alert: dict[str, object]


Order = Callable[[list[Stored]], list[Stored]]


def shuffled(matching: list[Stored]) -> list[Stored]:
    return sorted(matching, key=lambda s: s.rank)  # stable for a given window, as a store's order is


def ascending(matching: list[Stored]) -> list[Stored]:
    return sorted(matching, key=lambda s: (s.updated, str(s.alert["id"])))  # $orderby honoured


def descending(matching: list[Stored]) -> list[Stored]:
    return sorted(matching, key=lambda s: (s.updated, str(s.alert["id"])), reverse=True)


def partly_sorted(matching: list[Stored]) -> list[Stored]:
    """Runs of 50 in time order, the runs themselves in storage order (a cache that merges shards)."""
    ordered = sorted(matching, key=lambda s: (s.updated, str(s.alert["id"])))
    runs = [ordered[i : i + 50] for i in range(0, len(ordered), 50)]
    runs.sort(key=lambda r: r[0].rank)
    return [s for r in runs for s in r]


def store(alerts: list[dict[str, object]]) -> list[Stored]:
    return [
        Stored(
            parse_instant(str(a["lastUpdateTime"])),
            hashlib.blake2b(f"{a['id']}|{a['lastUpdateTime']}".encode(), digest_size=8).digest(),
            a,
        )
        for a in alerts
    ]


def unordered_answer(query: Query, stored: list[Stored], order: Order) -> dict[str, object]:
    """Defender's documented filter semantics, with `$orderby` accepted and ignored."""
    low, high = -(2**62), 2**62
    for operator, literal in _COMPARISON.findall(query.filter):
        bound = parse_instant(literal)
        if operator == "ge":
            low = max(low, bound)
        elif operator == "gt":
            low = max(low, bound + 1)
        elif operator == "lt":
            high = min(high, bound)
        else:
            low, high = max(low, bound), min(high, bound + 1)
    assert re.sub(_COMPARISON, "x", query.filter) in ("x", "x and x"), query.filter
    matching = [s for s in stored if low <= s.updated < high]
    return {"value": [s.alert for s in order(matching)[query.skip : query.skip + query.top]]}


def collect_unordered(
    collection: Collection, alerts: list[dict[str, object]], order: Order, before: frozenset[str] = frozenset()
) -> tuple[list[AlertState], list[Query]]:
    """Run to the end, checking after every page that the checkpoint never passes a state not yet
    written (by this run, or by the runs before it: `before`)."""
    stored = store(alerts)
    written: list[AlertState] = []
    queries: list[Query] = []
    pending = {AlertState(str(s.alert["id"]), s.updated, 0, "").key: s.updated for s in stored}
    for key in before:
        pending.pop(key, None)
    while (query := collection.next_query()) is not None:
        queries.append(query)
        assert len(queries) < 2_000, "the collector did not make progress"
        page = split_page(json.dumps(unordered_answer(query, stored, order)), "lastUpdateTime")
        new = list(collection.take_page(page))
        written += new
        for state in new:
            pending.pop(state.key, None)
        since = collection.checkpoint().since
        if since is not None and pending:
            assert since - OVERLAP_TICKS <= min(pending.values()), "the checkpoint passed a state never written"
    return written, queries


def backlog(n: int, seed: int = 3, span_seconds: int = 3 * 86_400, ties: int = 0) -> list[dict[str, object]]:
    rng = random.Random(seed)
    alerts = [alert(f"a{i}", BASE + rng.randrange(span_seconds * SECOND)) for i in range(n)]
    alerts += [alert(f"tie{i}", BASE + span_seconds * SECOND // 2) for i in range(ties)]  # one crowded instant
    return alerts


@pytest.mark.parametrize("order", [shuffled, descending, partly_sorted])
@pytest.mark.parametrize(("page_size", "n", "ties"), [(100, 2_000, 250), (10_000, 30_000, 12_000)])
def test_every_state_is_yielded_once_whatever_the_order(order: Order, page_size: int, n: int, ties: int) -> None:
    alerts = backlog(n, ties=ties)
    collection = Collection(Checkpoint(), BASE, page_size)
    written, queries = collect_unordered(collection, alerts, order)
    assert collection.orderby_ignored
    keys = [s.key for s in written]
    assert len(keys) == len(set(keys)) == len(alerts)  # none lost, none twice
    assert any(" and lastUpdateTime lt " in q.filter for q in queries)
    assert any(q.filter.startswith("lastUpdateTime eq ") and q.skip for q in queries)  # the crowded instant
    checkpoint = collection.checkpoint()
    assert checkpoint.since == max(s.updated for s in written)  # all windows complete: the checkpoint is whole
    rerun, rerun_queries = collect_unordered(
        Collection(checkpoint, BASE, page_size), alerts, order, frozenset(keys)
    )
    assert rerun == [] and len(rerun_queries) == 1  # the overlap re-read fits in one page: nothing again


def test_in_order_pages_make_exactly_the_calls_they_made_before() -> None:
    alerts = backlog(2_000)
    collection = Collection(Checkpoint(), BASE, 100)
    written, queries = run(collection, alerts)
    assert not collection.orderby_ignored
    assert len(written) == 2_000 and len(queries) == 21  # 20 full pages and the last, partial one
    assert all(" and " not in q.filter for q in queries)


def test_a_page_that_is_not_full_is_complete_in_any_order() -> None:
    alerts = backlog(60)
    collection = Collection(Checkpoint(), BASE, 100)
    written, queries = collect_unordered(collection, alerts, shuffled)
    assert len(written) == 60 and len(queries) == 1 and not collection.orderby_ignored
    assert collection.checkpoint().since == max(s.updated for s in written)


def test_a_run_stopped_inside_the_fallback_resumes_where_everything_before_is_complete() -> None:
    alerts = backlog(3_000)
    first = Collection(Checkpoint(), BASE, 100)
    written: list[AlertState] = []
    for _ in range(12):  # the run's time or hourly budget ends here
        query = first.next_query()
        assert query is not None
        answer = unordered_answer(query, store(alerts), shuffled)
        written += first.take_page(split_page(json.dumps(answer), "lastUpdateTime"))
    assert first.orderby_ignored
    checkpoint = first.checkpoint()
    assert checkpoint.since is not None and checkpoint.since < max(s.updated for s in written)
    rest, _ = collect_unordered(
        Collection(checkpoint, BASE, 100), alerts, shuffled, frozenset(s.key for s in written)
    )
    keys = [s.key for s in written + rest]
    assert len(keys) == len(set(keys)) == 3_000


def test_the_fallback_costs_on_a_100000_alert_backlog() -> None:
    """Not a timing: the number of API calls, printed for the notes, bounded so a regression shows."""
    alerts = backlog(100_000, span_seconds=3 * 86_400)
    collection = Collection(Checkpoint(), BASE, 10_000)
    written, queries = collect_unordered(collection, alerts, shuffled)
    assert len({s.key for s in written}) == 100_000
    ordered_calls = len(collect_unordered(Collection(Checkpoint(), BASE, 10_000), alerts, ascending)[1])
    print(f"100,000-alert backlog, page 10,000: {ordered_calls} calls in order, {len(queries)} with the fallback")
    assert ordered_calls == 11 and len(queries) <= 40
