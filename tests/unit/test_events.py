"""The event stream is well-formed XML 1.0 whatever Defender sends, and the JSON in it reads back unchanged."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET

import pytest

from mde_alerts.collector import AlertState
from mde_alerts.events import EventNotWritten, EventStream, xml_safe_json

# XML 1.0 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
FORBIDDEN = [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xD800, 0xDBFF, 0xDC00, 0xDFFF, 0xFFFE, 0xFFFF]
ALLOWED_EDGES = [0x09, 0x0A, 0x0D, 0x20, 0x7F, 0x85, 0xD7FF, 0xE000, 0xFFFD, 0x10000, 0x10FFFF]


def _json(value: str) -> str:
    return json.dumps({"title": value}, ensure_ascii=False, separators=(",", ":"))


def _events(states: list[AlertState]) -> list[ET.Element]:
    out = io.StringIO()
    out.write("<stream>")
    EventStream(out, stanza="defender_endpoint_alerts://prod", index="mde", source="s", sourcetype="st").write(states)
    out.write("</stream>")
    return list(ET.fromstring(out.getvalue()))  # expat: fails on anything XML 1.0 forbids


@pytest.mark.parametrize("codepoint", FORBIDDEN, ids=hex)
def test_a_character_xml_forbids_becomes_a_json_escape_of_itself(codepoint: int) -> None:
    text = _json(f"a{chr(codepoint)}b")
    safe = xml_safe_json(text)
    assert safe == text.replace(chr(codepoint), f"\\u{codepoint:04x}")
    assert json.loads(safe) == json.loads(text)
    (event,) = _events([AlertState("1", 1, 1, text)])
    assert json.loads(event.findtext("data") or "")["title"] == f"a{chr(codepoint)}b"


@pytest.mark.parametrize("codepoint", ALLOWED_EDGES, ids=hex)
def test_a_character_xml_allows_is_left_as_it_is(codepoint: int) -> None:
    text = _json(f"a{chr(codepoint)}b")
    assert xml_safe_json(text) is text  # the fast path: no copy
    (event,) = _events([AlertState("1", 1, 1, text)])
    assert json.loads(event.findtext("data") or "")["title"] == f"a{chr(codepoint)}b"


def test_unescaped_the_stream_would_be_malformed() -> None:
    """What the escaping prevents: expat refuses U+FFFF in character data."""
    with pytest.raises(ET.ParseError):
        ET.fromstring(f"<data>{chr(0xFFFF)}</data>")


def test_evidence_with_markup_backslashes_and_forbidden_characters_reads_back_exactly() -> None:
    alert = {
        "id": "da1",
        "title": "Suspicious \ufffe file ]]> </data></event> & <b>",
        "evidence": [
            {"fileName": "invoice\uffff.pdf.exe", "processCommandLine": 'cmd /c "C:\\temp\\\uffff x.bat"\t\x01'},
        ],
    }
    raw = json.dumps(alert, ensure_ascii=False, separators=(",", ":"))
    clean = json.dumps({"id": "da2", "title": "plain"}, separators=(",", ":"))
    events = _events([AlertState("da1", 1, 1, raw), AlertState("da2", 2, 2, clean)])
    assert [json.loads(e.findtext("data") or "") for e in events] == [alert, json.loads(clean)]
    assert events[1].findtext("data") == clean  # clean events are the API's text, unchanged


def test_an_event_that_cannot_be_written_stops_the_stream_and_names_the_alert() -> None:
    out = io.TextIOWrapper(io.BytesIO(), encoding="ascii")  # a stream that cannot carry the title
    stream = EventStream(out, stanza="s", index="mde", source="s", sourcetype="st")
    with pytest.raises(EventNotWritten, match="alert da9"):
        stream.write([AlertState("da8", 1, 1, _json("ok")), AlertState("da9", 2, 2, _json("Zürich"))])
    assert stream.written == 1  # the one before it was written, and is counted
