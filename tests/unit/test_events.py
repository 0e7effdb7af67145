"""The event stream is well-formed XML 1.0 whatever Defender sends, and the JSON in it reads back unchanged."""

from __future__ import annotations

import io
import json
import random
import xml.etree.ElementTree as ET

import pytest

from mde_alerts.collector import AlertState, split_page
from mde_alerts.events import EventNotWritten, EventStream
from mde_alerts.xml10 import xml_safe_api_json, xml_safe_json

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
    text = '{"title":"a' + chr(codepoint) + 'b"}'  # raw, as no strict JSON writer would, to test every range
    safe = xml_safe_json(text)
    assert safe == '{"title":"a\\u' + f"{codepoint:04x}" + 'b"}'
    assert json.loads(safe)["title"] == f"a{chr(codepoint)}b"
    ET.fromstring(f"<data>{safe}</data>")  # well-formed


@pytest.mark.parametrize("codepoint", ALLOWED_EDGES, ids=hex)
def test_a_character_xml_allows_is_left_as_it_is(codepoint: int) -> None:
    text = _json(f"a{chr(codepoint)}b")
    assert xml_safe_json(text) is text and xml_safe_api_json(text) is text  # no copy
    (event,) = _events([AlertState("1", 1, 1, text)])
    assert json.loads(event.findtext("data") or "")["title"] == f"a{chr(codepoint)}b"


def test_the_fast_check_agrees_with_the_full_one_on_text_from_strict_utf8_json() -> None:
    rng = random.Random(11)
    # JSON text as Defender may send it: escapes (control, surrogate, astral) and raw UTF-8 characters
    alphabet = ["a", r"\t", r"\u0001", r"\ud800", "é", "я", "中", "😀", "\ufffe", "\uffff", "\ufdd0"]
    for _ in range(3_000):
        text = '{"fileName":"' + "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 12))) + '"}'
        json.loads(text)  # strict JSON, and it is str: what PageReader slices from a strict UTF-8 answer
        assert xml_safe_api_json(text) == xml_safe_json(text)


@pytest.mark.parametrize("pretty", [False, True], ids=["compact answer", "pretty-printed answer"])
def test_what_defender_sends_reads_back_exactly_and_the_stream_is_well_formed(pretty: bool) -> None:
    alert = {
        "id": "da1",
        "lastUpdateTime": "2026-11-30T10:00:00.1234567Z",
        "title": "Malware \uffff in \ufffe.exe",
        "evidence": [{"fileName": "lone\ud800surrogate\u0001.exe", "processCommandLine": "C:\\x\\\uffff.bat"}],
    }
    answer = json.dumps({"value": [alert]}, ensure_ascii=False, indent=2 if pretty else None)
    answer = answer.replace("\ud800", "\\ud800")  # as Defender would send it: the only way JSON carries one
    states = split_page(answer, "lastUpdateTime").states  # raw UTF-8 noncharacters, escaped surrogate and control
    (event,) = _events(states)
    assert json.loads(event.findtext("data") or "") == alert


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
