"""One run of the modular input, as splunkd starts it: config in, events out, checkpoint saved.

This is the Splunk glue around the pure collector: it reads the account and settings
through solnlib, walks Defender's alerts page by page with `DefenderClient`, writes
each page's new alert states to stdout as they arrive, and after every batch (at most
1,000 events or 2 seconds) flushes and only then stores the checkpoint. A run that
stops for any reason has written everything its checkpoint claims.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Optional

from solnlib import log

from mde_alerts.checkpoint_store import (
    CheckpointLost,
    CheckpointStore,
    FileCheckpoints,
    KVStoreCheckpoints,
    StoreUnavailable,
)
from mde_alerts.collector import AlertState, BadPage, Checkpoint, Collection, checkpoint_batches
from mde_alerts.constants import INPUT_SCHEME, LOG_NAMESPACE, SOURCETYPE
from mde_alerts.defender_api import BudgetExhausted, ConfigError, DefenderClient, TransientError
from mde_alerts.events import EventNotWritten, EventStream, utf8_output
from mde_alerts.input_settings import InputSettings, InvalidSetting, parse_input
from mde_alerts.splunk_config import Settings, Splunkd, read_account, read_settings
from mde_alerts.timeutil import TICKS_PER_SECOND

MAX_RUN_SECONDS = 15 * 60  # a run ends after this even with more to read; the next run resumes
HOURLY_CALL_LIMIT = 1_500  # Defender: per app per tenant
HOURLY_RESERVE = 100  # left for other tools and for the connectivity check on save
MINUTE_CALL_LIMIT = 100
MINUTE_RESERVE = 5


def validate_input(parameters: Mapping[str, Any]) -> None:
    """`--validate-arguments`: splunkd shows the exception's message in the input form."""
    try:
        parse_input(parameters)
    except InvalidSetting as error:
        raise ValueError(str(error)) from None


def input_name(stanza: str) -> str:
    return stanza.split("://", 1)[-1]


def get_logger(name: str, metadata: Mapping[str, Any]) -> logging.Logger:
    home = os.environ.get("SPLUNK_HOME")
    directory = os.path.join(home, "var", "log", "splunk") if home else str(metadata.get("checkpoint_dir") or ".")
    log.Logs.set_context(directory=directory, namespace=LOG_NAMESPACE)
    logger: logging.Logger = log.Logs().get_logger(name)  # file: <namespace>_<input>.log
    return logger


@dataclass
class RunSummary:
    events: int = 0
    pages: int = 0
    alerts_read: int = 0
    since: Optional[str] = None
    outcome: str = "ok"
    orderby_ignored: bool = False


def open_store(kind: str, splunkd: Splunkd, checkpoint_dir: str) -> CheckpointStore:
    if kind == "file":
        return FileCheckpoints(checkpoint_dir)
    return KVStoreCheckpoints(splunkd)


class CallPacer:
    """Keeps one run inside Defender's per-minute limit and the hourly budget left."""

    def __init__(self, collection: Collection, sleep: Any = time.sleep) -> None:
        self._collection = collection
        self._sleep = sleep
        self._recent: list[float] = []

    def record(self) -> None:
        now = time.time()
        self._recent = [t for t in self._recent if t > now - 60] + [now]
        self._collection.count_call(int(now // 60))

    def before_call(self, deadline: float) -> None:
        minute = int(time.time() // 60)
        if self._collection.calls_in_last(60, minute) >= HOURLY_CALL_LIMIT - HOURLY_RESERVE:
            raise BudgetExhausted("the hourly API budget is nearly used up; the next run resumes")
        now = time.time()
        recent = [t for t in self._recent if t > now - 60]
        if len(recent) >= MINUTE_CALL_LIMIT - MINUTE_RESERVE:
            pause = recent[0] + 60 - now
            if time.monotonic() + pause > deadline:
                raise BudgetExhausted("the per-minute API limit is reached; the next run resumes")
            self._sleep(pause)


def collect(
    settings: InputSettings,
    client: DefenderClient,
    store: CheckpointStore,
    key: str,
    stream: EventStream,
    logger: logging.Logger,
    deadline: float,
) -> RunSummary:
    summary = RunSummary()
    try:
        checkpoint = store.load(key)
    except CheckpointLost as error:
        # Starting again from Start re-sends alerts (duplicates) but loses none; the lost
        # record is replaced by the first checkpoint of this run.
        logger.error(f"{error}. Starting again from the input's Start; expect duplicate events for that period.")
        checkpoint = None
    collection = Collection(checkpoint or Checkpoint(), settings.start, settings.page_size)
    pacer = CallPacer(collection)
    client.on_call = pacer.record
    client.deadline = deadline
    saved = (stream.written, client.stats.api_calls)  # events and calls covered by the stored checkpoint
    store_failed = False

    def save() -> None:
        nonlocal saved, store_failed
        try:
            store.save(key, collection.checkpoint())
        except StoreUnavailable as error:
            store_failed = True
            raise StoreUnavailable(
                f"{error} The run stopped at once: the {stream.written} events it wrote stay written, and the next "
                f"run starts from the last stored checkpoint, so it sends the {stream.written - saved[0]} written "
                "since then again (duplicates, never loss)."
            ) from None
        saved = (stream.written, client.stats.api_calls)

    def write_page(page: Iterable[AlertState]) -> None:
        # The collector's checkpoint is exact partway through a page too (it never passes
        # a state not yet seen), so storing one every batch bounds what a kill -9 re-sends.
        for batch in checkpoint_batches(collection.take_page(page)):
            stream.write(batch)
            stream.flush()  # the checkpoint never names an event splunkd has not been handed
            save()

    try:
        while True:
            query = collection.next_query()
            if query is None:
                break
            if time.monotonic() > deadline:
                summary.outcome = "stopped at the run's time limit; the next run resumes"
                break
            pacer.before_call(deadline)
            client.alerts_page(query, settings.include_evidence, settings.time_field, write_page)
            if collection.orderby_ignored and not summary.orderby_ignored:
                summary.orderby_ignored = True
                logger.warning(
                    "Defender ignored $orderby=lastUpdateTime asc: a full page of alerts came back out of time "
                    "order. This run now reads closed time windows, split until each fits in one page, so no "
                    "alert is skipped; it costs more API calls. The checkpoint moves only over complete windows."
                )
    except BudgetExhausted as error:
        summary.outcome = f"paused: {error}"
        logger.warning(f"Pausing until the next run: {error}")
    except BaseException as error:
        # Whatever stopped the run midway, the events it wrote stay written: flush them
        # and remember them (the checkpoint of a page read in part is exact), then let
        # the error be reported. A store that just failed is not asked again, and an
        # event that could not be written is never passed by the checkpoint.
        stream.flush()
        if stream.written > saved[0] and not store_failed and not isinstance(error, EventNotWritten):
            with contextlib.suppress(StoreUnavailable):
                save()
        raise
    finally:
        summary.pages = collection.pages
        summary.alerts_read = collection.states_read
        summary.events = stream.written
    if stream.written > saved[0] or client.stats.api_calls - saved[1] > 1:
        save()  # also remembers the calls spent against the hourly budget
    since = collection.checkpoint().since
    summary.since = (
        None if since is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since // TICKS_PER_SECOND))
    )
    return summary


def stream_events(metadata: Mapping[str, Any], inputs: Mapping[str, Mapping[str, Any]], event_writer: Any) -> None:
    splunkd = Splunkd.from_server_uri(str(metadata["server_uri"]), str(metadata["session_key"]))
    checkpoint_dir = str(metadata.get("checkpoint_dir") or ".")
    clients: dict[str, DefenderClient] = {}  # one per account: MSAL app, token and connections reused
    addon_settings: Optional[Settings] = None  # proxy, TLS, log level: the same for every input
    for stanza, params in inputs.items():
        name = input_name(stanza)
        logger = get_logger(name, metadata)
        started = time.monotonic()
        summary = RunSummary()
        client: Optional[DefenderClient] = None
        try:
            log.modular_input_start(logger, name)
            if addon_settings is None:
                addon_settings = read_settings(splunkd)
            logger.setLevel(addon_settings.log_level)
            settings = parse_input(params)
            account = read_account(splunkd, settings.account)
            client = clients.get(account.name)
            if client is None:
                client = clients[account.name] = DefenderClient(
                    account.cloud, account.tenant_id, account.credential, addon_settings.connection
                )
            if not event_writer.header_written:
                event_writer._out = utf8_output(event_writer._out)
                event_writer._out.write("<stream>")
                event_writer.header_written = True
            stream = EventStream(
                event_writer._out,
                stanza=stanza,
                index=settings.index,
                source=f"{INPUT_SCHEME}://{account.tenant_id}/{name}",
                sourcetype=SOURCETYPE,
            )
            store = open_store(settings.checkpoint_store, splunkd, checkpoint_dir)
            summary = collect(settings, client, store, name, stream, logger, started + MAX_RUN_SECONDS)
            if summary.events:
                log.events_ingested(logger, stanza, SOURCETYPE, summary.events, settings.index, account=account.name)
        except (ConfigError, InvalidSetting, StoreUnavailable) as error:
            summary.outcome = "failed"
            logger.error(f"Input {name!r} cannot run: {error}")
            sys.stderr.write(f"ERROR input {name!r}: {error}\n")
        except TransientError as error:
            summary.outcome = "failed"
            logger.error(f"Input {name!r} stopped; it resumes at the next interval from what it wrote. {error}")
            sys.stderr.write(f"ERROR input {name!r}: {error}\n")
        except EventNotWritten as error:
            summary.outcome = "failed"
            message = (
                f"Input {name!r} stopped: {error}. Its checkpoint stays before that alert, so nothing is skipped and "
                "the next interval tries again. This is a bug in the add-on: report it with the alert id."
            )
            logger.error(message)
            sys.stderr.write(f"ERROR {message}\n")
        except BadPage as error:
            summary.outcome = "failed"
            message = (
                f"Input {name!r} stopped at an answer it cannot use: {error}. Everything before it was written "
                "and nothing after it is skipped; the next interval asks again. If this repeats, report it to "
                "Microsoft support with the alert id."
            )
            logger.error(message)
            sys.stderr.write(f"ERROR {message}\n")
        except Exception as error:  # noqa: BLE001  an unexpected bug: keep the traceback, never a secret
            summary.outcome = "failed"
            log.log_exception(logger, error, "unexpected", msg_before=f"Input {name!r} failed unexpectedly:")
        finally:
            stats = client.stats if client else None
            logger.info(
                "run summary: "
                f"outcome={summary.outcome!r} events={summary.events} alerts_read={summary.alerts_read} "
                f"pages={summary.pages} api_calls={stats.api_calls if stats else 0} "
                f"token_requests={stats.token_requests if stats else 0} retries={stats.retries if stats else 0} "
                f"throttled={stats.throttled if stats else 0} orderby_ignored={summary.orderby_ignored} "
                f"checkpoint_since={summary.since} "
                f"seconds={time.monotonic() - started:.1f}"
            )
            log.modular_input_end(logger, name)
