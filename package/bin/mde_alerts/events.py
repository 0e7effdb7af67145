"""Splunk's modular-input XML event stream, written directly.

splunklib builds an ElementTree per event; for a 100,000-alert backlog that is most of
the run's CPU. The format is small and documented (`<stream><event>...</event></stream>`),
so events are formatted here as text and handed to splunklib's EventWriter stream.

The stream is XML 1.0, and JSON allows characters XML 1.0 does not (U+FFFE, U+FFFF, and
C0 controls or lone surrogates that reach the text through an escape). They are legal
in a Windows file name, so an attacker can put them in an alert's evidence; written as
they are, they make the event malformed and splunkd drops it. Such characters are
written as JSON `\\uXXXX` escapes instead: the XML is valid and the JSON decodes to
exactly the string Defender sent.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from typing import IO
from xml.sax.saxutils import escape, quoteattr

from mde_alerts.collector import AlertState
from mde_alerts.timeutil import epoch_text

# Everything outside XML 1.0's Char production: #x9 | #xA | #xD | [#x20-#xD7FF] |
# [#xE000-#xFFFD] | [#x10000-#x10FFFF].
NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class EventNotWritten(Exception):
    """An event could not be written; the run stops before its checkpoint passes it."""


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def xml_safe_json(text: str) -> str:
    """JSON text with every character XML 1.0 forbids written as a `\\uXXXX` escape.

    Such a character can only sit inside a JSON string (outside strings JSON allows only
    ASCII structure and tab, CR, LF, space), and never right after a lone backslash
    (escapes are ASCII), so the escape decodes to the very same character.
    """
    if NOT_XML_CHAR.search(text) is None:  # nearly always: one scan, no copy
        return text
    return NOT_XML_CHAR.sub(_json_escape, text)


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
                data = escape(xml_safe_json(state.raw))
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
