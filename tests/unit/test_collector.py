"""The collector as a pure function: (checkpoint, pages of alerts) -> (states to write, next checkpoint)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from mde_alerts.collector import (
    OVERLAP_TICKS,
    AlertState,
    BadPage,
    Checkpoint,
    Collection,
    PageReader,
    Query,
    checkpoint_batches,
    split_page,
)
from mde_alerts.timeutil import TICKS_PER_SECOND, format_instant, parse_instant

BASE = parse_instant("2026-11-01T00:00:00Z")
SECOND = TICKS_PER_SECOND


def alert(alert_id: str, updated: int) -> dict[str, object]:
    text = format_instant(updated).replace(".0000000Z", "Z")
    return {"id": alert_id, "lastUpdateTime": text, "alertCreationTime": "2026-10-31T23:00:00.5Z", "evidence": []}


def answer(query: Query, alerts: list[dict[str, object]]) -> dict[str, object]:
    """Defender's documented semantics for the filters the collector sends."""
    field, operator, literal = re.fullmatch(r"(\w+) (ge|gt|eq) (\S+)", query.filter).groups()  # type: ignore[union-attr]
    bound = parse_instant(literal)
    compare = {"ge": lambda t: t >= bound, "gt": lambda t: t > bound, "eq": lambda t: t == bound}[operator]
    matching = sorted(
        (a for a in alerts if compare(parse_instant(str(a[field])))), key=lambda a: parse_instant(str(a[field]))
    )
    return {"value": matching[query.skip : query.skip + query.top]}


def run(collection: Collection, alerts: list[dict[str, object]]) -> tuple[list[AlertState], list[Query]]:
    written: list[AlertState] = []
    queries: list[Query] = []
    while (query := collection.next_query()) is not None:
        queries.append(query)
        assert len(queries) < 100, "the collector did not make progress"
        written += collection.take_page(split_page(json.dumps(answer(query, alerts)), "lastUpdateTime"))
    return written, queries


def test_first_run_reads_everything_since_start_in_order() -> None:
    alerts = [alert(f"a{i}", BASE + i * SECOND) for i in range(7)]
    collection = Collection(Checkpoint(), start=BASE + 2 * SECOND, page_size=3)
    written, queries = run(collection, alerts)
    assert [state.alert_id for state in written] == ["a2", "a3", "a4", "a5", "a6"]
    assert queries[0].filter == "lastUpdateTime ge 2026-11-01T00:00:02.0000000Z"
    assert collection.checkpoint().since == BASE + 6 * SECOND


def test_states_sharing_a_timestamp_across_a_page_boundary_are_each_written_once() -> None:
    alerts = [alert("a", BASE), alert("b", BASE + SECOND), alert("c", BASE + SECOND), alert("d", BASE + SECOND)]
    alerts += [alert("e", BASE + 2 * SECOND)]
    written, _ = run(Collection(Checkpoint(), start=BASE, page_size=2), alerts)
    assert sorted(state.alert_id for state in written) == ["a", "b", "c", "d", "e"]
    assert len(written) == 5


def test_more_states_at_one_instant_than_a_page_holds_are_paged_with_skip() -> None:
    tie = [alert(f"t{i}", BASE + SECOND) for i in range(7)]
    alerts = [alert("before", BASE), *tie, alert("after", BASE + 2 * SECOND)]
    written, queries = run(Collection(Checkpoint(), start=BASE, page_size=3), alerts)
    assert sorted(state.alert_id for state in written) == sorted(["before", "after"] + [f"t{i}" for i in range(7)])
    assert any(q.filter.startswith("lastUpdateTime eq ") and q.skip > 0 for q in queries)
    assert queries[-1].filter.startswith("lastUpdateTime gt ") or queries[-1].filter.startswith("lastUpdateTime ge ")


def test_a_rerun_with_nothing_new_writes_nothing_in_one_call() -> None:
    alerts = [alert(f"a{i}", BASE + i * SECOND) for i in range(5)]
    first = Collection(Checkpoint(), start=BASE, page_size=100)
    run(first, alerts)
    checkpoint = Checkpoint.from_record(json.loads(json.dumps(first.checkpoint().to_record())))
    written, queries = run(Collection(checkpoint, start=BASE, page_size=100), alerts)
    assert written == []
    assert len(queries) == 1
    assert queries[0].filter == f"lastUpdateTime ge {format_instant(BASE + 4 * SECOND - OVERLAP_TICKS)}"


def test_an_update_is_a_new_state_and_a_late_arrival_inside_the_overlap_is_caught() -> None:
    alerts = [alert("a", BASE), alert("b", BASE + 60 * SECOND)]
    first = Collection(Checkpoint(), start=BASE, page_size=100)
    run(first, alerts)
    updated_a = alert("a", BASE + 120 * SECOND)  # status changed: same id, new lastUpdateTime
    late = alert("late", BASE + 30 * SECOND)  # visible only now, timestamp inside the overlap
    alerts = [updated_a, alerts[1], late]
    written, _ = run(Collection(first.checkpoint(), start=BASE, page_size=100), alerts)
    assert [(s.alert_id, s.updated) for s in written] == [("late", BASE + 30 * SECOND), ("a", BASE + 120 * SECOND)]


def test_the_checkpoint_forgets_states_older_than_the_overlap() -> None:
    alerts = [alert("old", BASE), alert("new", BASE + OVERLAP_TICKS + 10 * SECOND)]
    collection = Collection(Checkpoint(), start=BASE, page_size=100)
    run(collection, alerts)
    assert list(collection.checkpoint().seen.values()) == [BASE + OVERLAP_TICKS + 10 * SECOND]


def test_timestamps_compare_as_instants_not_strings() -> None:
    # As text "...:59.2Z" sorts after "...:59.10Z"; as instants it is later, too, but
    # "...:59.2Z" < "...:59.25Z" although "2Z" > "25" would put it after as text.
    early = alert("x", 0)
    early["lastUpdateTime"] = "2026-11-01T00:00:59.2Z"
    later = alert("y", 0)
    later["lastUpdateTime"] = "2026-11-01T00:00:59.25Z"
    states = split_page(json.dumps({"value": [early, later]}), "lastUpdateTime").states
    assert states[0].updated < states[1].updated
    collection = Collection(Checkpoint(), start=BASE, page_size=100)
    list(collection.take_page(states))
    assert collection.checkpoint().since == parse_instant("2026-11-01T00:00:59.25Z")


def test_event_time_follows_the_chosen_field_and_raw_json_is_kept_compact() -> None:
    item = {
        "id": "a",
        "title": 'Ünïcode "quoted"',
        "lastUpdateTime": "2026-11-01T00:00:01Z",
        "alertCreationTime": "2026-11-01T00:00:00.5Z",
    }
    answer_text = json.dumps({"@odata.context": "x", "value": [item]}, ensure_ascii=False, separators=(",", ":"))
    (state,) = split_page(answer_text, "alertCreationTime").states
    assert state.event_time == parse_instant("2026-11-01T00:00:00.5Z")
    assert state.raw == json.dumps(item, ensure_ascii=False, separators=(",", ":"))  # the API's own text
    pretty = json.dumps({"value": [item]}, indent=2)
    assert split_page(pretty, "alertCreationTime").states[0].raw == state.raw  # made compact when it is not


def test_a_next_link_is_followed_as_given() -> None:
    collection = Collection(Checkpoint(), start=BASE, page_size=2)
    answer_text = json.dumps({"value": [alert("a", BASE)], "@odata.nextLink": "https://h/api/alerts?$skip=2"})
    list(collection.take_page(split_page(answer_text, "lastUpdateTime")))
    assert collection.next_query() == Query("", 0, 2, link="https://h/api/alerts?$skip=2")
    list(collection.take_page([]))
    assert collection.next_query() is None


@pytest.mark.parametrize(
    "body, message",
    [
        ({"error": "x"}, "no 'value'"),
        ({"value": {"id": "a"}}, "not a list"),
        ({"value": [{"id": "a"}]}, "alert a has no lastUpdateTime"),
        ({"value": [{"id": "a", "lastUpdateTime": "yesterday"}]}, "not an ISO-8601"),
    ],
)
def test_unusable_answers_are_refused_whole(body: object, message: str) -> None:
    with pytest.raises(BadPage, match=message):
        split_page(json.dumps(body), "lastUpdateTime")


@pytest.mark.parametrize(
    "text", ["<html>busy</html>", '{"value":[{"id":"a","lastUpdateTime":"2026', "", '{"value":[]} x']
)
def test_answers_that_are_not_json_are_worth_asking_again(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        split_page(text, "lastUpdateTime")
    assert not isinstance(caught.value, BadPage)


@pytest.mark.parametrize("record", ["{", [], {"version": 0, "since": None}, {"version": 1, "since": "nope"}])
def test_unreadable_checkpoints_are_reported(record: object) -> None:
    with pytest.raises(ValueError):
        Checkpoint.from_record(record)


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [1, 7, 4096])
def test_a_page_is_read_the_same_whatever_the_chunk_boundaries(size: int) -> None:
    alerts = [alert(f"a{i}", BASE + i) for i in range(20)]
    alerts[3]["title"] = "Ünïcode ✓ straddling chunks"
    text = json.dumps({"@odata.context": "x", "value": alerts, "@odata.count": 12345}, ensure_ascii=False)
    reader = PageReader(chunked(text.encode(), size), "lastUpdateTime")
    states = list(reader)
    assert [json.loads(s.raw) for s in states] == alerts
    assert states[3].raw == json.dumps(alerts[3], ensure_ascii=False)  # sliced, not rebuilt


def test_an_answer_cut_short_is_an_error_worth_asking_again() -> None:
    text = json.dumps({"value": [alert(f"a{i}", BASE + i) for i in range(5)]}).encode()
    for cut in (len(text) - 1, len(text) // 2, 3):
        with pytest.raises(ValueError):
            list(PageReader(chunked(text[:cut], 64), "lastUpdateTime"))


def test_a_page_broken_midway_and_asked_again_writes_each_state_once() -> None:
    alerts = [alert(f"a{i}", BASE + i * SECOND) for i in range(10)]
    text = json.dumps({"value": alerts}).encode()
    collection = Collection(Checkpoint(), start=BASE, page_size=100)
    written: list[AlertState] = []
    with pytest.raises(ValueError):
        for state in collection.take_page(PageReader(chunked(text[: len(text) * 2 // 3], 100), "lastUpdateTime")):
            written.append(state)
    assert 0 < len(written) < 10 and collection.next_query() is not None
    written += collection.take_page(PageReader([text], "lastUpdateTime"))
    assert [s.alert_id for s in written] == [f"a{i}" for i in range(10)]
    assert collection.next_query() is None


def test_a_long_backlog_is_remembered_a_page_at_a_time() -> None:
    alerts = [alert(f"a{i}", BASE + i * SECOND * 60) for i in range(3000)]  # a minute apart: little overlap
    collection = Collection(Checkpoint(), start=BASE, page_size=100)
    peak = 0
    while (query := collection.next_query()) is not None:
        list(collection.take_page(split_page(json.dumps(answer(query, alerts)), "lastUpdateTime")))
        peak = max(peak, collection.remembered)
    assert collection.states_new == 3000
    assert peak <= 2 * 100  # never the whole backlog


def _states(n: int) -> list[AlertState]:
    return [AlertState(f"a{i}", BASE + i, BASE + i, "{}") for i in range(n)]


def test_checkpoint_batches_end_after_a_thousand_events() -> None:
    batches = [list(batch) for batch in checkpoint_batches(_states(2_500), clock=lambda: 0.0)]
    assert [len(b) for b in batches] == [1_000, 1_000, 500]
    assert [s for b in batches for s in b] == _states(2_500)  # every state once, in order


def test_checkpoint_batches_end_after_two_seconds_of_a_slow_stream() -> None:
    ticks = iter(float(t) for t in range(100))  # the clock moves half a second at each look
    batches = [list(batch) for batch in checkpoint_batches(_states(9), clock=lambda: next(ticks) / 2)]
    assert [len(b) for b in batches] == [4, 4, 1]  # a batch takes states for 2 s
    assert list(checkpoint_batches([], clock=lambda: 0.0)) == []


def test_a_stream_that_breaks_mid_batch_has_handed_on_every_state_it_yielded() -> None:
    def breaks_after_five() -> Iterator[AlertState]:
        yield from _states(5)
        raise ValueError("connection reset")

    handed_on: list[AlertState] = []
    with pytest.raises(ValueError):
        for batch in checkpoint_batches(breaks_after_five(), clock=lambda: 0.0):
            handed_on.extend(batch)
    assert handed_on == _states(5)
