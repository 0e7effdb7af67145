"""Splunk's modular-input XML event stream, written directly.

splunklib builds an ElementTree per event; for a 100,000-alert backlog that is most of
the run's CPU. The format is small and documented (`<stream><event>...</event></stream>`),
so events are formatted here as text and handed to splunklib's EventWriter stream.

The stream is XML 1.0: every alert's JSON goes through `xml10` (characters JSON allows
and XML forbids become JSON escapes of themselves), and what still cannot be written
stops the run before its checkpoint passes the alert.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import IO
from xml.sax.saxutils import escape, quoteattr

from mde_alerts.collector import AlertState
from mde_alerts.timeutil import epoch_text
from mde_alerts.xml10 import xml_safe_api_json


class EventNotWritten(Exception):
    """An event could not be written; the run stops before its checkpoint passes it."""


def utf8_output(out: IO[str]) -> IO[str]:
    """splunkd reads the stream as UTF-8, whatever the platform's locale (cp1252 on Windows)."""
    if isinstance(out, io.TextIOWrapper) and out.encoding.replace("-", "").lower() != "utf8":
        out.reconfigure(encoding="utf-8", errors="strict")
    return out


class EventStream:
    def __init__(self, out: IO[str], stanza: str, index: str, source: str, sourcetype: str) -> None:
        self._out = out
        self._head = f'<event stanza={quoteattr(stanza)} unbroken="1"><time>'
        self._meta = (
            f"</time><source>{escape(source)}</source><sourcetype>{escape(sourcetype)}</sourcetype>"
            f"<index>{escape(index)}</index><data>"
        )
        self.written = 0

    def write(self, states: Iterable[AlertState]) -> int:
        head, meta, write = self._head, self._meta, self._out.write
        count = 0
        try:
            for state in states:  # one event at a time: never a second copy of the whole page
                data = escape(xml_safe_api_json(state.raw))
                event = f"{head}{epoch_text(state.event_time)}{meta}{data}</data><done/></event>"
                try:
                    write(event)
                except (UnicodeError, ValueError) as error:
                    raise EventNotWritten(
                        f"the event of alert {state.alert_id} could not be written ({type(error).__name__}: "
                        f"{str(error)[:200]})"
                    ) from None
                count += 1
        finally:  # a page that breaks off midway has still written what came before
            self.written += count
        return self.written

    def flush(self) -> None:
        self._out.flush()
