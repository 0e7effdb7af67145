"""JSON text that is also XML 1.0 character data.

The modular-input event stream is XML 1.0, and JSON allows characters XML 1.0 does
not: U+FFFE and U+FFFF (legal in a Windows file name, so an attacker can put them in an
alert's evidence), and lone surrogates, which reach the text when an alert is
re-serialised after Defender sent them as `\\ud800`-style escapes. Written as they are,
they make the event malformed and splunkd drops it. They are written as JSON `\\uXXXX`
escapes instead: the XML is valid and the JSON decodes to exactly the string Defender
sent. This module is shared by the page parser and the event writer.
"""

from __future__ import annotations

import re

# Everything outside XML 1.0's Char production: #x9 | #xA | #xD | [#x20-#xD7FF] |
# [#xE000-#xFFFD] | [#x10000-#x10FFFF].
NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def xml_safe_json(text: str) -> str:
    """Any JSON text with every character XML 1.0 forbids written as a `\\uXXXX` escape.

    Such a character can only sit inside a JSON string (outside strings JSON allows only
    ASCII structure and tab, CR, LF, space), and never right after a lone backslash
    (escapes are ASCII), so the escape decodes to the very same character. This scans
    every character (about 15 µs for a 3 KB alert): use `xml_safe_api_json` on the hot path.
    """
    if NOT_XML_CHAR.search(text) is None:
        return text
    return NOT_XML_CHAR.sub(_json_escape, text)


def xml_safe_api_json(text: str) -> str:
    """`xml_safe_json` for JSON text decoded from strict UTF-8 and accepted by a strict JSON parser.

    Such text holds no surrogate (UTF-8 cannot encode one) and no raw control character
    (strict JSON escapes them all), so of what XML forbids only the noncharacters U+FFFE
    and U+FFFF can be in it. Looking for two characters costs nothing for text whose
    characters all lie below U+0100 (CPython knows the string's widest character) and
    well under a microsecond otherwise.
    """
    if "\uffff" in text or "\ufffe" in text:
        return xml_safe_json(text)
    return text
