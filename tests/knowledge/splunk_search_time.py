"""An offline model of the Splunk knowledge this add-on ships, so its CIM mapping is testable without Splunk.

No Splunk Enterprise can be installed where this project is built and tested, yet props.conf,
transforms.conf, eventtypes.conf and tags.conf decide what security content sees. This module reads
those files and applies them to an event the way Splunk documents it:

* index time: ``SHOULD_LINEMERGE = false`` event breaking with ``LINE_BREAKER``, ``TRUNCATE``,
  and timestamp extraction with ``TIME_PREFIX``/``MAX_TIMESTAMP_LOOKAHEAD``/``TIME_FORMAT``/``TZ``;
* search time, in Splunk's order: ``KV_MODE = json`` auto-extraction, ``FIELDALIAS``, ``EVAL``
  (calculated fields; all EVALs of a stanza see the fields as they were before the EVAL step),
  ``LOOKUP`` (CSV lookups defined in transforms.conf), event types, tags.

It implements only the constructs the add-on uses (the eval functions ``case``, ``match``,
``mvfind``, ``mvindex``, ``mvdedup``, ``true``; the operators ``AND`` and ``.``; string, integer
and field operands). Anything else -- another setting, function, operator, search syntax or lookup
option -- raises :class:`UnsupportedConstruct`, so a later change to the .conf files cannot
silently escape the tests: extend the model (with a test of its semantics) first.

Assumptions about Splunk where its documentation is not explicit are marked ``ASSUMPTION`` below
and listed in docs/CIM.md.
"""

from __future__ import annotations

import calendar
import csv
import io
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Callable, Union
from urllib.parse import unquote

__all__ = [
    "ConfError",
    "EvalTypeError",
    "Fields",
    "IndexedEvent",
    "Knowledge",
    "UnsupportedConstruct",
    "json_auto_kv",
    "parse_conf",
    "parse_eval",
]


class UnsupportedConstruct(Exception):
    """The .conf files use something this model does not implement (so the tests cannot vouch for it)."""


class ConfError(ValueError):
    """A .conf file or lookup table is malformed (Splunk would reject or misread it)."""


class EvalTypeError(ValueError):
    """An eval expression fails Splunk's type rules (e.g. AND on a string, a boolean result)."""


Fields = dict[str, list[str]]
"""Search-time fields of one event: name -> values (one value, or several for a multivalue field)."""

Conf = dict[str, dict[str, str]]
"""A parsed .conf file: stanza -> setting -> value, in file order."""


# --------------------------------------------------------------------------------------------
# .conf files
# --------------------------------------------------------------------------------------------


def parse_conf(text: str, name: str = "<conf>") -> Conf:
    """Parse Splunk .conf syntax.

    ``[stanza]`` headers, ``key = value`` settings (split at the first ``=``, both sides trimmed),
    comment lines whose first non-blank character is ``#`` (there are no inline comments: a ``#``
    later in a line is part of the value), and continuation: a line ending in a backslash continues
    on the next line (ASSUMPTION: the backslash is dropped and the lines are joined with a newline;
    for the eval expressions here a newline is whitespace either way). Settings before the first
    stanza belong to ``default``. A repeated stanza is merged, as Splunk does; a setting repeated in
    one stanza is an error here, because in this add-on's own files it can only be a mistake.
    """
    conf: Conf = {}
    stanza = "default"
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        lineno = index + 1
        line = lines[index]
        index += 1
        while line.endswith("\\") and index < len(lines):
            line = line[:-1] + "\n" + lines[index]
            index += 1
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("["):
            if not stripped.endswith("]") or len(stripped) < 3:
                raise ConfError(f"{name}:{lineno}: malformed stanza header {stripped!r}")
            stanza = stripped[1:-1]
            conf.setdefault(stanza, {})
            continue
        if "=" not in stripped:
            raise ConfError(f"{name}:{lineno}: expected 'key = value', got {stripped!r}")
        key, value = (part.strip() for part in stripped.split("=", 1))
        if not key:
            raise ConfError(f"{name}:{lineno}: empty setting name")
        settings = conf.setdefault(stanza, {})
        if key in settings:
            raise ConfError(f"{name}:{lineno}: [{stanza}] sets {key} twice")
        settings[key] = value
    return conf


def _read_conf(path: Path) -> Conf:
    return parse_conf(path.read_text(encoding="utf-8"), str(path)) if path.is_file() else {}


def _conf_bool(value: str, where: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "t", "yes", "y"):
        return True
    if lowered in ("0", "false", "f", "no", "n"):
        return False
    raise ConfError(f"{where}: {value!r} is not a boolean")


def _conf_int(value: str, where: str) -> int:
    if not re.fullmatch(r"[0-9]+", value.strip()):
        raise ConfError(f"{where}: {value!r} is not a non-negative integer")
    return int(value)


# --------------------------------------------------------------------------------------------
# KV_MODE = json
# --------------------------------------------------------------------------------------------

_JSON_WS = re.compile(r"[ \t\n\r]*")
_JSON_STRING = re.compile(r'"(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"')
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


class _CutOff(Exception):
    """The (truncated) text ended inside a value."""


class _JsonFlattener:
    def __init__(self, text: str, truncated: bool) -> None:
        self.text = text
        self.pos = 0
        self.truncated = truncated
        self.fields: Fields = {}

    def _skip_ws(self) -> None:
        match = _JSON_WS.match(self.text, self.pos)
        assert match is not None  # the pattern matches the empty string
        self.pos = match.end()

    def _fail(self, what: str) -> _CutOff | ValueError:
        if self.truncated:
            return _CutOff()
        return ValueError(f"invalid JSON at offset {self.pos}: {what}")

    def _expect(self, char: str) -> None:
        self._skip_ws()
        if self.text.startswith(char, self.pos):
            self.pos += 1
            return
        raise self._fail(f"expected {char!r}")

    def _emit(self, path: str, value: str) -> None:
        self.fields.setdefault(path, []).append(value)

    def document(self) -> Fields:
        self._skip_ws()
        if not self.text.startswith("{", self.pos):
            raise ValueError("an event for KV_MODE=json must be a JSON object")
        try:
            self._value("")
            self._skip_ws()
            if self.pos != len(self.text):
                raise ValueError(f"invalid JSON: trailing text at offset {self.pos}")
        except _CutOff:
            pass
        return self.fields

    def _string(self) -> str:
        match = _JSON_STRING.match(self.text, self.pos)
        if match is None:
            raise self._fail("bad string")
        self.pos = match.end()
        decoded = json.loads(match.group(0))
        assert isinstance(decoded, str)
        return decoded

    def _value(self, path: str) -> None:
        self._skip_ws()
        if self.pos >= len(self.text):
            raise self._fail("unexpected end")
        char = self.text[self.pos]
        if char == "{":
            self.pos += 1
            self._skip_ws()
            if self.text.startswith("}", self.pos):
                self.pos += 1
                return
            while True:
                self._skip_ws()
                key = self._string()
                self._expect(":")
                self._value(f"{path}.{key}" if path else key)
                self._skip_ws()
                if self.text.startswith(",", self.pos):
                    self.pos += 1
                    continue
                self._expect("}")
                return
        if char == "[":
            self.pos += 1
            self._skip_ws()
            if self.text.startswith("]", self.pos):
                self.pos += 1
                return
            while True:
                self._value(path + "{}")
                self._skip_ws()
                if self.text.startswith(",", self.pos):
                    self.pos += 1
                    continue
                self._expect("]")
                return
        if char == '"':
            self._emit(path, self._string())
            return
        number = _JSON_NUMBER.match(self.text, self.pos)
        if number is not None and number.end() > self.pos:
            if self.truncated and number.end() == len(self.text):
                raise _CutOff()  # the number may continue beyond the cut
            self.pos = number.end()
            self._emit(path, number.group(0))
            return
        for literal in ("true", "false", "null"):
            if self.text.startswith(literal, self.pos):
                self.pos += len(literal)
                self._emit(path, literal)
                return
            if self.truncated and literal.startswith(self.text[self.pos :]):
                raise _CutOff()
        raise self._fail(f"unexpected character {char!r}")


def json_auto_kv(raw: str, extraction_cutoff: int | None = None) -> Fields:
    """Fields that ``KV_MODE = json`` extracts from a JSON object event.

    Naming follows Splunk's spath: members of nested objects are joined with ``.``
    (``relatedUser.userName``), array elements add ``{}`` (``mitreTechniques{}``,
    ``evidence{}.entityType``), and every occurrence of a path adds a value, so arrays become
    multivalue fields in document order. Values are text: strings decoded, numbers and booleans as
    their JSON text. ASSUMPTION: a JSON null gives the value ``null`` (text), an empty object or
    array gives no field, and an empty string gives an empty value.

    ``extraction_cutoff`` models limits.conf ``[spath] extraction_cutoff`` (Splunk's default is
    5000 bytes), which applies to automatic JSON extraction. ASSUMPTION: values that end within
    the first ``extraction_cutoff`` bytes are extracted, the rest are not. ``None`` = no limit.
    """
    truncated = False
    text = raw
    if extraction_cutoff is not None:
        encoded = raw.encode("utf-8")
        if len(encoded) > extraction_cutoff:
            text = encoded[:extraction_cutoff].decode("utf-8", errors="ignore")
            truncated = True
    return _JsonFlattener(text, truncated).document()


# --------------------------------------------------------------------------------------------
# eval expressions
# --------------------------------------------------------------------------------------------

Value = Union[None, bool, int, str, list[str]]
"""An eval value: null, boolean, number, string, or multivalue (two or more strings)."""


@dataclass(frozen=True)
class StringLit:
    value: str


@dataclass(frozen=True)
class IntLit:
    value: int


@dataclass(frozen=True)
class FieldRef:
    name: str


@dataclass(frozen=True)
class Call:
    function: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class BinaryOp:
    operator: str  # "AND" or "."
    left: Node
    right: Node


Node = Union[StringLit, IntLit, FieldRef, Call, BinaryOp]


@dataclass(frozen=True)
class _Token:
    kind: str  # "str", "field", "int", "ident", "punct", "end"
    text: str
    pos: int


_UNSUPPORTED_KEYWORDS = {"or", "not", "xor", "like", "in", "true", "false", "null", "and"}
_INTEGER = re.compile(r"[0-9]+")
_NOT_INTEGER_TAIL = re.compile(r"\.[0-9]|[eE]")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _tokenize(expr: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(expr):
        char = expr[pos]
        if char.isspace():
            pos += 1
        elif char == '"':
            out: list[str] = []
            end = pos + 1
            while True:
                if end >= len(expr):
                    raise ConfError(f"unterminated string literal at {pos} in {expr!r}")
                current = expr[end]
                if current == '"':
                    break
                if current == "\\" and end + 1 < len(expr) and expr[end + 1] in '\\"':
                    # ASSUMPTION: eval string literals unescape \\ and \" only; any other
                    # backslash stays as written (so regexes like "\d" reach the regex engine).
                    out.append(expr[end + 1])
                    end += 2
                    continue
                out.append(current)
                end += 1
            tokens.append(_Token("str", "".join(out), pos))
            pos = end + 1
        elif char == "'":
            end = expr.find("'", pos + 1)
            if end < 0:
                raise ConfError(f"unterminated field name at {pos} in {expr!r}")
            tokens.append(_Token("field", expr[pos + 1 : end], pos))
            pos = end + 1
        elif char.isdigit():
            match = _INTEGER.match(expr, pos)
            assert match is not None
            if _NOT_INTEGER_TAIL.match(expr, match.end()):
                raise UnsupportedConstruct(f"non-integer number literal at {pos} in {expr!r}")
            tokens.append(_Token("int", match.group(0), pos))
            pos = match.end()
        elif char.isalpha() or char == "_":
            match = _IDENTIFIER.match(expr, pos)
            assert match is not None
            tokens.append(_Token("ident", match.group(0), pos))
            pos = match.end()
        elif char in "(),.":
            tokens.append(_Token("punct", char, pos))
            pos += 1
        else:
            raise UnsupportedConstruct(f"eval operator or character {char!r} at {pos} is not modelled: {expr!r}")
    tokens.append(_Token("end", "", len(expr)))
    return tokens


@dataclass(frozen=True)
class _Function:
    min_args: int
    max_args: int
    impl: Callable[[list[Value]], Value]


class _Parser:
    def __init__(self, expr: str) -> None:
        self.expr = expr
        self.tokens = _tokenize(expr)
        self.index = 0

    def _peek(self) -> _Token:
        return self.tokens[self.index]

    def _next(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def _error(self, token: _Token, message: str) -> ConfError:
        return ConfError(f"eval syntax error at {token.pos} ({message}): {self.expr!r}")

    def parse(self) -> Node:
        node = self._and()
        token = self._peek()
        if token.kind != "end":
            raise self._error(token, f"unexpected {token.text!r}")
        return node

    def _and(self) -> Node:
        node = self._concat()
        while True:
            token = self._peek()
            if token.kind == "ident" and token.text == "AND":
                self._next()
                node = BinaryOp("AND", node, self._concat())
            elif token.kind == "ident" and token.text.lower() in _UNSUPPORTED_KEYWORDS:
                raise UnsupportedConstruct(f"eval keyword {token.text!r} is not modelled: {self.expr!r}")
            else:
                return node

    def _concat(self) -> Node:
        node = self._primary()
        while self._peek().kind == "punct" and self._peek().text == ".":
            self._next()
            node = BinaryOp(".", node, self._primary())
        return node

    def _primary(self) -> Node:
        token = self._next()
        if token.kind == "str":
            return StringLit(token.text)
        if token.kind == "int":
            return IntLit(int(token.text))
        if token.kind == "field":
            return FieldRef(token.text)
        if token.kind == "punct" and token.text == "(":
            node = self._and()
            closing = self._next()
            if closing.text != ")":
                raise self._error(closing, "expected ')'")
            return node
        if token.kind == "ident":
            if self._peek().kind == "punct" and self._peek().text == "(":
                self._next()
                args: list[Node] = []
                if not (self._peek().kind == "punct" and self._peek().text == ")"):
                    while True:
                        args.append(self._and())
                        separator = self._next()
                        if separator.text == ")":
                            break
                        if separator.text != ",":
                            raise self._error(separator, "expected ',' or ')'")
                else:
                    self._next()
                spec = _FUNCTIONS.get(token.text)
                if spec is None and token.text != "case":
                    raise UnsupportedConstruct(f"eval function {token.text}() is not modelled: {self.expr!r}")
                if token.text == "case":
                    if not args or len(args) % 2:
                        raise ConfError(f"case() needs condition/value pairs: {self.expr!r}")
                elif spec is not None and not spec.min_args <= len(args) <= spec.max_args:
                    raise UnsupportedConstruct(
                        f"{token.text}() with {len(args)} arguments is not modelled: {self.expr!r}"
                    )
                return Call(token.text, tuple(args))
            if token.text.lower() in _UNSUPPORTED_KEYWORDS:
                raise UnsupportedConstruct(f"eval keyword {token.text!r} is not modelled: {self.expr!r}")
            return FieldRef(token.text)  # a bare field name (letters, digits, underscore)
        raise self._error(token, f"unexpected {token.text or 'end of expression'!r}")


def parse_eval(expr: str) -> Node:
    """Parse an eval expression into a tree (raising for anything this model does not implement)."""
    return _Parser(expr).parse()


def _scalar(value: Value, function: str) -> str | None:
    """A function argument that must be a single value (numbers become text)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise EvalTypeError(f"{function}() got a boolean where a string is expected")
    if isinstance(value, list):
        raise UnsupportedConstruct(f"{function}() on a multivalue field is not modelled")
    return str(value)


def _values(value: Value, function: str) -> list[str] | None:
    """A function argument read as a (possibly single-valued) multivalue field."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise EvalTypeError(f"{function}() got a boolean where a field is expected")
    if isinstance(value, list):
        return list(value)
    return [str(value)]


def _from_values(values: list[str]) -> Value:
    if not values:
        return None
    return values[0] if len(values) == 1 else values


def _regex(value: Value, function: str) -> re.Pattern[str]:
    pattern = _scalar(value, function)
    if pattern is None:
        raise UnsupportedConstruct(f"{function}() with a null regex is not modelled")
    try:
        return re.compile(pattern)
    except re.error as error:
        raise UnsupportedConstruct(f"{function}(): regex {pattern!r} is not valid for this model: {error}") from error


def _fn_match(args: list[Value]) -> Value:
    subject = _scalar(args[0], "match")
    pattern = _regex(args[1], "match")
    if subject is None:
        return None
    return pattern.search(subject) is not None


def _fn_mvfind(args: list[Value]) -> Value:
    values = _values(args[0], "mvfind")
    pattern = _regex(args[1], "mvfind")
    if values is None:
        return None
    for position, value in enumerate(values):
        if pattern.search(value):
            return position
    return None


def _fn_mvindex(args: list[Value]) -> Value:
    values = _values(args[0], "mvindex")
    start = args[1]
    if values is None or start is None:
        return None
    if isinstance(start, bool) or not isinstance(start, int):
        raise EvalTypeError("mvindex() needs a number as its index")
    if not -len(values) <= start < len(values):
        return None
    return values[start]


def _fn_mvdedup(args: list[Value]) -> Value:
    values = _values(args[0], "mvdedup")
    if values is None:
        return None
    return _from_values(list(dict.fromkeys(values)))


def _fn_true(args: list[Value]) -> Value:
    return True


_FUNCTIONS: dict[str, _Function] = {
    "match": _Function(2, 2, _fn_match),
    "mvfind": _Function(2, 2, _fn_mvfind),
    "mvindex": _Function(2, 2, _fn_mvindex),  # the three-argument (range) form is not modelled
    "mvdedup": _Function(1, 1, _fn_mvdedup),
    "true": _Function(0, 0, _fn_true),
}


def _read_field(fields: Fields, name: str) -> Value:
    return _from_values(list(fields.get(name, [])))


def _truth(value: Value, where: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise EvalTypeError(f"{where} needs a boolean, got {value!r}")


def evaluate(node: Node, fields: Fields) -> Value:
    """Evaluate an eval tree against an event's fields (Splunk null semantics: null propagates)."""
    if isinstance(node, StringLit):
        return node.value
    if isinstance(node, IntLit):
        return node.value
    if isinstance(node, FieldRef):
        return _read_field(fields, node.name)
    if isinstance(node, BinaryOp):
        left = evaluate(node.left, fields)
        right = evaluate(node.right, fields)
        if node.operator == "AND":
            # Three-valued: false if either side is false, else null if either is null.
            truths = (_truth(left, "AND"), _truth(right, "AND"))
            if False in truths:
                return False
            return None if None in truths else True
        left_text, right_text = _scalar(left, "'.'"), _scalar(right, "'.'")
        if left_text is None or right_text is None:
            return None
        return left_text + right_text
    if node.function == "case":
        # Returns the value of the first condition that is true; a null condition is not true.
        for position in range(0, len(node.args), 2):
            if _truth(evaluate(node.args[position], fields), "case() condition") is True:
                return evaluate(node.args[position + 1], fields)
        return None
    spec = _FUNCTIONS[node.function]
    return spec.impl([evaluate(arg, fields) for arg in node.args])


def referenced_fields(node: Node) -> set[str]:
    """Every field an expression reads."""
    if isinstance(node, FieldRef):
        return {node.name}
    if isinstance(node, BinaryOp):
        return referenced_fields(node.left) | referenced_fields(node.right)
    if isinstance(node, Call):
        found: set[str] = set()
        for arg in node.args:
            found |= referenced_fields(arg)
        return found
    return set()


def _stored(value: Value, target: str) -> list[str] | None:
    """What an EVAL result stores in its field (None removes the field)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise EvalTypeError(f"EVAL-{target}: a boolean result cannot be stored in a field")
    if isinstance(value, list):
        return list(value)
    return [str(value)]


# --------------------------------------------------------------------------------------------
# FIELDALIAS and LOOKUP settings, lookup tables
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldAlias:
    source: str
    target: str
    overwrite: bool  # AS (True) or ASNEW (False)


def _plain_words(value: str, where: str) -> list[str]:
    words = value.split()
    for word in words:
        if word[0] in "\"'":
            raise UnsupportedConstruct(f"{where}: quoted field names are not modelled: {value!r}")
    return words


def parse_fieldalias(value: str, where: str) -> list[FieldAlias]:
    """``FIELDALIAS-<class> = (<orig_field> AS|ASNEW <new_field>)+``."""
    words = _plain_words(value, where)
    if not words or len(words) % 3:
        raise ConfError(f"{where}: expected '<field> AS <alias>' pairs: {value!r}")
    aliases: list[FieldAlias] = []
    for position in range(0, len(words), 3):
        source, keyword, target = words[position : position + 3]
        if keyword not in ("AS", "ASNEW"):
            if keyword.upper() in ("AS", "ASNEW"):
                raise UnsupportedConstruct(f"{where}: write {keyword.upper()} in upper case: {value!r}")
            raise ConfError(f"{where}: expected AS or ASNEW, got {keyword!r}")
        aliases.append(FieldAlias(source, target, keyword == "AS"))
    return aliases


@dataclass(frozen=True)
class LookupSpec:
    transform: str
    inputs: tuple[tuple[str, str], ...]  # (lookup column, event field)
    outputs: tuple[tuple[str, str], ...]  # (lookup column, event field)
    output_new: bool  # OUTPUTNEW (True) or OUTPUT (False)


def _column_pairs(words: list[str], where: str) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    position = 0
    while position < len(words):
        column = words[position]
        if column.upper() in ("AS", "OUTPUT", "OUTPUTNEW"):
            raise ConfError(f"{where}: unexpected {column!r}")
        if position + 1 < len(words) and words[position + 1].upper() == "AS":
            if words[position + 1] != "AS":
                raise UnsupportedConstruct(f"{where}: write AS in upper case")
            if position + 2 >= len(words):
                raise ConfError(f"{where}: AS without a field name")
            pairs.append((column, words[position + 2]))
            position += 3
        else:
            pairs.append((column, column))
            position += 1
    return tuple(pairs)


def parse_lookup(value: str, where: str) -> LookupSpec:
    """``LOOKUP-<class> = <transform> (<column> [AS <field>])+ OUTPUT|OUTPUTNEW (<column> [AS <field>])+``."""
    words = _plain_words(value, where)
    keywords = [position for position, word in enumerate(words) if word.upper() in ("OUTPUT", "OUTPUTNEW")]
    if not keywords:
        raise UnsupportedConstruct(f"{where}: a LOOKUP without OUTPUT/OUTPUTNEW (all columns) is not modelled")
    if len(keywords) > 1:
        raise ConfError(f"{where}: more than one OUTPUT clause")
    split = keywords[0]
    if words[split] not in ("OUTPUT", "OUTPUTNEW"):
        raise UnsupportedConstruct(f"{where}: write {words[split].upper()} in upper case")
    if split < 2 or split == len(words) - 1:
        raise ConfError(f"{where}: expected '<transform> <input> OUTPUT <output>': {value!r}")
    spec = LookupSpec(
        transform=words[0],
        inputs=_column_pairs(words[1:split], where),
        outputs=_column_pairs(words[split + 1 :], where),
        output_new=words[split] == "OUTPUTNEW",
    )
    if spec.output_new and len(spec.outputs) > 1:
        raise UnsupportedConstruct(f"{where}: OUTPUTNEW with several output fields is not modelled")
    return spec


_TRANSFORM_SETTINGS = {"filename", "case_sensitive_match", "min_matches", "default_match"}


@dataclass
class LookupTable:
    """A CSV lookup of transforms.conf: ``filename``, ``case_sensitive_match``, ``min_matches``, ``default_match``."""

    name: str
    columns: list[str]
    rows: list[dict[str, str]]
    case_sensitive: bool = True
    min_matches: int = 0
    default_match: str | None = None

    @classmethod
    def from_settings(cls, name: str, settings: dict[str, str], read_lookup: Callable[[str], str]) -> LookupTable:
        where = f"transforms.conf [{name}]"
        unknown = sorted(set(settings) - _TRANSFORM_SETTINGS)
        if unknown:
            raise UnsupportedConstruct(f"{where}: settings not modelled: {', '.join(unknown)}")
        if "filename" not in settings:
            raise UnsupportedConstruct(f"{where}: only CSV file lookups (filename = ...) are modelled")
        filename = settings["filename"]
        if "/" in filename or "\\" in filename or not filename.endswith(".csv"):
            raise ConfError(f"{where}: filename must name a .csv file in lookups/: {filename!r}")
        text = read_lookup(filename)
        if text.startswith("\ufeff"):
            raise UnsupportedConstruct(f"{where}: {filename} starts with a byte order mark")
        reader = csv.reader(io.StringIO(text, newline=""))
        table = [row for row in reader if row]
        if not table:
            raise ConfError(f"{where}: {filename} is empty")
        header = table[0]
        if len(set(header)) != len(header) or not all(header):
            raise ConfError(f"{where}: {filename} has empty or repeated column names")
        rows: list[dict[str, str]] = []
        for line, row in enumerate(table[1:], start=2):
            if len(row) != len(header):
                raise ConfError(f"{where}: {filename} line {line} has {len(row)} cells, header has {len(header)}")
            rows.append(dict(zip(header, row)))
        return cls(
            name=name,
            columns=header,
            rows=rows,
            case_sensitive=_conf_bool(settings.get("case_sensitive_match", "true"), where),
            min_matches=_conf_int(settings.get("min_matches", "0"), where),
            default_match=settings.get("default_match"),
        )

    def matching_rows(self, criteria: list[tuple[str, str]]) -> list[dict[str, str]]:
        def same(cell: str, value: str) -> bool:
            return cell == value if self.case_sensitive else cell.lower() == value.lower()

        return [row for row in self.rows if all(same(row[column], value) for column, value in criteria)]


# --------------------------------------------------------------------------------------------
# index time: event breaking, truncation, timestamps
# --------------------------------------------------------------------------------------------

_INDEX_TIME_SETTINGS = {
    "SHOULD_LINEMERGE",
    "LINE_BREAKER",
    "TRUNCATE",
    "TIME_PREFIX",
    "TIME_FORMAT",
    "MAX_TIMESTAMP_LOOKAHEAD",
    "TZ",
}


@dataclass(frozen=True)
class IndexedEvent:
    raw: str
    time: Decimal  # seconds since the epoch, with the sub-second digits the timestamp had
    truncated: bool


def _time_format_regex(time_format: str) -> re.Pattern[str]:
    """A regex for the strptime subset used here: %Y %m %d %H %M %S %<n>N %Z and literal text."""
    parts: list[str] = []
    position = 0
    fixed = {"Y": r"(?P<Y>[0-9]{4})", "m": r"(?P<m>[0-9]{2})", "d": r"(?P<d>[0-9]{2})"}
    fixed.update({"H": r"(?P<H>[0-9]{2})", "M": r"(?P<M>[0-9]{2})", "S": r"(?P<S>[0-9]{2})"})
    while position < len(time_format):
        char = time_format[position]
        if char != "%":
            parts.append(re.escape(char))
            position += 1
            continue
        directive = re.compile(r"%([0-9]*)([A-Za-z%])").match(time_format, position)
        if directive is None:
            raise ConfError(f"TIME_FORMAT: dangling % in {time_format!r}")
        width, letter = directive.groups()
        position = directive.end()
        if letter == "N" and width:
            # ASSUMPTION: %<n>N reads up to n sub-second digits, so Defender's shortened
            # fractions (".2") parse as well as full ones (".7733333").
            parts.append(f"(?P<N>[0-9]{{1,{int(width)}}})")
        elif letter == "Z" and not width:
            parts.append(r"(?P<Z>Z|UTC|GMT)")  # only the UTC designators are modelled
        elif letter in fixed and not width:
            parts.append(fixed[letter])
        elif letter == "%" and not width:
            parts.append("%")
        else:
            raise UnsupportedConstruct(f"TIME_FORMAT directive {directive.group(0)!r} is not modelled")
    return re.compile("".join(parts))


# --------------------------------------------------------------------------------------------
# event types and tags
# --------------------------------------------------------------------------------------------

_SEARCH_TERM = re.compile(r'([A-Za-z_][A-Za-z0-9_.:{}]*)=("(?:[^"\\]|\\.)*"|[^\s"()=]+)')


def parse_eventtype_search(search: str, where: str) -> list[tuple[str, str]]:
    """The ``field=value field=value ...`` searches (implicit AND, exact values) modelled here."""
    terms: list[tuple[str, str]] = []
    position = 0
    while position < len(search):
        if search[position].isspace():
            position += 1
            continue
        match = _SEARCH_TERM.match(search, position)
        end = match.end() if match else position
        if match is None or (end < len(search) and not search[end].isspace()):
            raise UnsupportedConstruct(f"{where}: only 'field=value' terms are modelled, not {search[position:]!r}")
        name, value = match.groups()
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        if value.upper() in ("AND", "OR", "NOT") or "*" in value:
            raise UnsupportedConstruct(f"{where}: wildcards and operators are not modelled: {search!r}")
        terms.append((name, value))
        position = end
    if not terms:
        raise ConfError(f"{where}: empty search")
    return terms


# --------------------------------------------------------------------------------------------
# the app's knowledge
# --------------------------------------------------------------------------------------------

_SEARCH_TIME_PREFIXES = ("FIELDALIAS-", "EVAL-", "LOOKUP-")


@dataclass
class SourcetypeKnowledge:
    """The settings of one props.conf sourcetype stanza, parsed and checked."""

    name: str
    index_time: dict[str, str] = field(default_factory=dict)
    kv_mode: str | None = None
    aliases: list[tuple[str, FieldAlias]] = field(default_factory=list)
    evals: dict[str, Node] = field(default_factory=dict)
    lookups: list[tuple[str, LookupSpec]] = field(default_factory=list)

    def eval_cross_references(self) -> dict[str, set[str]]:
        """For each EVAL, the fields it reads that another EVAL of this stanza writes.

        Splunk evaluates each EVAL against the fields from before the EVAL step, so such a
        reference sees the raw/aliased value (or nothing), never the other EVAL's result.
        """
        found: dict[str, set[str]] = {}
        for target, node in self.evals.items():
            shadowed = referenced_fields(node) & (set(self.evals) - {target})
            if shadowed:
                found[target] = shadowed
        return found


class Knowledge:
    """The props/transforms/eventtypes/tags of an app, applied to events."""

    def __init__(
        self,
        props: Conf,
        transforms: Conf,
        eventtypes: Conf,
        tags: Conf,
        read_lookup: Callable[[str], str],
    ) -> None:
        self.lookup_tables = {
            name: LookupTable.from_settings(name, settings, read_lookup)
            for name, settings in transforms.items()
            if name != "default" or settings
        }
        self.sourcetypes: dict[str, SourcetypeKnowledge] = {}
        for stanza, settings in props.items():
            if stanza == "default" and not settings:
                continue
            self.sourcetypes[stanza] = self._sourcetype(stanza, settings)
        self.eventtypes: dict[str, list[tuple[str, str]]] = {}
        for name, settings in eventtypes.items():
            where = f"eventtypes.conf [{name}]"
            unknown = sorted(set(settings) - {"search"})
            if unknown or "search" not in settings:
                raise UnsupportedConstruct(f"{where}: only 'search' is modelled (found {sorted(settings)})")
            self.eventtypes[name] = parse_eventtype_search(settings["search"], where)
        self.tags: list[tuple[str, str, dict[str, bool]]] = []
        for stanza, settings in tags.items():
            where = f"tags.conf [{stanza}]"
            if "=" not in stanza:
                raise UnsupportedConstruct(f"{where}: only [<field>=<value>] stanzas are modelled")
            field_name, value = stanza.split("=", 1)
            states: dict[str, bool] = {}
            for tag, state in settings.items():
                if state not in ("enabled", "disabled"):
                    raise ConfError(f"{where}: {tag} = {state!r} (expected enabled or disabled)")
                states[tag] = state == "enabled"
            self.tags.append((field_name, unquote(value), states))

    @classmethod
    def from_app(cls, default_dir: Path, lookups_dir: Path) -> Knowledge:
        """Read ``default/{props,transforms,eventtypes,tags}.conf`` and ``lookups/*.csv`` of an app."""

        def read_lookup(filename: str) -> str:
            path = lookups_dir / filename
            if not path.is_file():
                raise ConfError(f"lookup table {path} does not exist")
            return path.read_text(encoding="utf-8")

        return cls(
            props=_read_conf(default_dir / "props.conf"),
            transforms=_read_conf(default_dir / "transforms.conf"),
            eventtypes=_read_conf(default_dir / "eventtypes.conf"),
            tags=_read_conf(default_dir / "tags.conf"),
            read_lookup=read_lookup,
        )

    @classmethod
    def from_texts(
        cls,
        props: str,
        transforms: str = "",
        eventtypes: str = "",
        tags: str = "",
        lookups: dict[str, str] | None = None,
    ) -> Knowledge:
        """Build from .conf texts (for tests of the model itself)."""
        tables = dict(lookups or {})

        def read_lookup(filename: str) -> str:
            if filename not in tables:
                raise ConfError(f"lookup table {filename} does not exist")
            return tables[filename]

        return cls(
            props=parse_conf(props, "props.conf"),
            transforms=parse_conf(transforms, "transforms.conf"),
            eventtypes=parse_conf(eventtypes, "eventtypes.conf"),
            tags=parse_conf(tags, "tags.conf"),
            read_lookup=read_lookup,
        )

    def _sourcetype(self, stanza: str, settings: dict[str, str]) -> SourcetypeKnowledge:
        where = f"props.conf [{stanza}]"
        if "::" in stanza or any(char in stanza for char in "*?|") or stanza == "default":
            raise UnsupportedConstruct(f"{where}: only plain sourcetype stanzas are modelled")
        knowledge = SourcetypeKnowledge(stanza)
        for key, value in settings.items():
            setting = f"{where} {key}"
            if key in _INDEX_TIME_SETTINGS:
                knowledge.index_time[key] = value
            elif key == "KV_MODE":
                if value not in ("json", "none"):
                    raise UnsupportedConstruct(f"{setting}: KV_MODE = {value} is not modelled")
                knowledge.kv_mode = value
            elif key.startswith("FIELDALIAS-"):
                knowledge.aliases.extend((key, alias) for alias in parse_fieldalias(value, setting))
            elif key.startswith("EVAL-"):
                target = key[len("EVAL-") :]
                if not target:
                    raise ConfError(f"{setting}: EVAL- needs a field name")
                knowledge.evals[target] = parse_eval(value)
            elif key.startswith("LOOKUP-"):
                spec = parse_lookup(value, setting)
                table = self.lookup_tables.get(spec.transform)
                if table is None:
                    raise ConfError(f"{setting}: transforms.conf has no [{spec.transform}]")
                for column, _ in spec.inputs + spec.outputs:
                    if column not in table.columns:
                        raise ConfError(f"{setting}: lookup {spec.transform} has no column {column!r}")
                knowledge.lookups.append((key, spec))
            else:
                raise UnsupportedConstruct(f"{setting}: setting not modelled")
        knowledge.aliases.sort(key=lambda item: item[0])
        knowledge.lookups.sort(key=lambda item: item[0])
        self._check_aliases(knowledge, where)
        self._check_lookups(knowledge, where)
        return knowledge

    @staticmethod
    def _check_aliases(knowledge: SourcetypeKnowledge, where: str) -> None:
        targets = [alias.target for _, alias in knowledge.aliases]
        if len(set(targets)) != len(targets):
            raise UnsupportedConstruct(f"{where}: several FIELDALIAS to one field are not modelled")
        for _, alias in knowledge.aliases:
            if alias.source in targets:
                raise UnsupportedConstruct(f"{where}: chained FIELDALIAS ({alias.source}) is not modelled")

    @staticmethod
    def _check_lookups(knowledge: SourcetypeKnowledge, where: str) -> None:
        outputs = [event_field for _, spec in knowledge.lookups for _, event_field in spec.outputs]
        if len(set(outputs)) != len(outputs):
            raise UnsupportedConstruct(f"{where}: several LOOKUPs writing one field are not modelled")
        for _, spec in knowledge.lookups:
            for _, event_field in spec.inputs:
                if event_field in outputs:
                    raise UnsupportedConstruct(f"{where}: a LOOKUP reading another LOOKUP's output is not modelled")

    def sourcetype(self, name: str) -> SourcetypeKnowledge:
        if name not in self.sourcetypes:
            raise UnsupportedConstruct(f"props.conf has no [{name}] stanza (Splunk defaults are not modelled)")
        return self.sourcetypes[name]

    # ---- index time ----

    def index(self, stream: str, sourcetype: str) -> list[IndexedEvent]:
        """Break a stream of input data into events and give each its timestamp."""
        settings = self.sourcetype(sourcetype).index_time
        where = f"props.conf [{sourcetype}]"
        if _conf_bool(settings.get("SHOULD_LINEMERGE", "true"), where):
            raise UnsupportedConstruct(f"{where}: SHOULD_LINEMERGE = true (line merging) is not modelled")
        breaker = re.compile(settings.get("LINE_BREAKER", r"([\r\n]+)"))
        if breaker.groups < 1:
            raise ConfError(f"{where}: LINE_BREAKER needs a capturing group")
        truncate = _conf_int(settings.get("TRUNCATE", "10000"), where)
        events: list[IndexedEvent] = []
        start = 0
        # Splunk: the first capture group is the event boundary and is discarded; text before it
        # ends one event, text after it starts the next.
        for match in breaker.finditer(stream):
            if match.end(1) == match.start(1):
                continue
            events.extend(self._event(stream[start : match.start(1)], sourcetype, truncate))
            start = match.end(1)
        events.extend(self._event(stream[start:], sourcetype, truncate))
        return events

    def _event(self, raw: str, sourcetype: str, truncate: int) -> list[IndexedEvent]:
        if not raw.strip():
            return []
        encoded = raw.encode("utf-8")
        truncated = truncate > 0 and len(encoded) > truncate
        if truncated:
            raw = encoded[:truncate].decode("utf-8", errors="ignore")
        return [IndexedEvent(raw, self.timestamp(raw, sourcetype), truncated)]

    def timestamp(self, raw: str, sourcetype: str) -> Decimal:
        """The event time from TIME_PREFIX / MAX_TIMESTAMP_LOOKAHEAD / TIME_FORMAT / TZ."""
        settings = self.sourcetype(sourcetype).index_time
        where = f"props.conf [{sourcetype}]"
        if "TIME_PREFIX" not in settings or "TIME_FORMAT" not in settings:
            raise UnsupportedConstruct(f"{where}: automatic timestamp recognition is not modelled")
        prefix = re.compile(settings["TIME_PREFIX"]).search(raw)
        if prefix is None:
            raise ValueError(f"{where}: TIME_PREFIX does not match the event")
        lookahead = _conf_int(settings.get("MAX_TIMESTAMP_LOOKAHEAD", "128"), where)
        window = raw[prefix.end() : prefix.end() + lookahead]
        parsed = _time_format_regex(settings["TIME_FORMAT"]).match(window)
        if parsed is None:
            raise ValueError(f"{where}: TIME_FORMAT does not match {window!r}")
        parts = parsed.groupdict()
        if parts.get("Z") is None:
            zone = settings.get("TZ")
            if zone != "UTC":
                raise UnsupportedConstruct(f"{where}: time zone {zone!r} is not modelled (only UTC)")
        missing = [letter for letter in "YmdHMS" if parts.get(letter) is None]
        if missing:
            raise UnsupportedConstruct(f"{where}: TIME_FORMAT without %{', %'.join(missing)} is not modelled")
        # calendar.timegm accepts out-of-range values, so check them the way strptime would.
        year, month, day = int(parts["Y"]), int(parts["m"]), int(parts["d"])
        hour, minute, second = int(parts["H"]), int(parts["M"]), int(parts["S"])
        if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]):
            raise ValueError(f"{where}: invalid date in {window!r}")
        if not (hour < 24 and minute < 60 and second < 60):
            raise ValueError(f"{where}: invalid time in {window!r}")
        seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
        fraction = Decimal("0." + parts["N"]) if parts.get("N") else Decimal(0)
        return Decimal(seconds) + fraction

    # ---- search time ----

    def search(
        self,
        raw: str,
        sourcetype: str,
        default_fields: dict[str, str] | None = None,
        extraction_cutoff: int | None = None,
    ) -> Fields:
        """All search-time fields of one event, in Splunk's order of operations."""
        knowledge = self.sourcetype(sourcetype)
        fields: Fields = {"_raw": [raw], "sourcetype": [sourcetype]}
        for name, value in (default_fields or {}).items():
            fields[name] = [value]
        if knowledge.kv_mode is None:
            raise UnsupportedConstruct(f"props.conf [{sourcetype}]: KV_MODE = auto (the default) is not modelled")
        if knowledge.kv_mode == "json":
            for name, values in json_auto_kv(raw, extraction_cutoff).items():
                if name in fields:
                    raise UnsupportedConstruct(f"JSON field {name!r} collides with a default field")
                fields[name] = values

        # FIELDALIAS: every alias reads the fields from before the alias step.
        before = {name: list(values) for name, values in fields.items()}
        for _, alias in knowledge.aliases:
            source = before.get(alias.source)
            if alias.overwrite:
                # AS: the alias takes the source's values, or disappears when there is no source.
                if source:
                    fields[alias.target] = list(source)
                else:
                    fields.pop(alias.target, None)
            elif source and not before.get(alias.target):
                fields[alias.target] = list(source)  # ASNEW: only when the alias field is absent

        # EVAL: every calculated field reads the fields from before the EVAL step.
        before = {name: list(values) for name, values in fields.items()}
        results = {target: _stored(evaluate(node, before), target) for target, node in knowledge.evals.items()}
        for target, stored in results.items():
            if stored is None:
                fields.pop(target, None)
            else:
                fields[target] = stored

        # LOOKUP: after every EVAL.
        for key, spec in knowledge.lookups:
            self._apply_lookup(key, spec, fields)

        # Event types, then tags (tags can apply to eventtype values).
        matched = [name for name, terms in self.eventtypes.items() if self._matches(terms, fields)]
        if matched:
            fields["eventtype"] = matched
        tags: dict[str, list[str]] = {}
        for field_name, value, states in self.tags:
            if value in fields.get(field_name, []):
                for tag, enabled in states.items():
                    if enabled and tag not in tags.setdefault(field_name, []):
                        tags[field_name].append(tag)
        for field_name, field_tags in tags.items():
            if field_tags:
                fields[f"tag::{field_name}"] = field_tags
        every_tag = list(dict.fromkeys(tag for field_tags in tags.values() for tag in field_tags))
        if every_tag:
            fields["tag"] = every_tag
        return fields

    def _apply_lookup(self, key: str, spec: LookupSpec, fields: Fields) -> None:
        table = self.lookup_tables[spec.transform]
        criteria: list[tuple[str, str]] = []
        for column, event_field in spec.inputs:
            values = fields.get(event_field)
            if not values:
                return  # ASSUMPTION: no input value, no lookup (and no default_match)
            if len(values) > 1:
                raise UnsupportedConstruct(f"{key}: a multivalue input field is not modelled")
            criteria.append((column, values[0]))
        rows = table.matching_rows(criteria)
        if len(rows) > 1:
            raise UnsupportedConstruct(f"{key}: several matching rows (max_matches) are not modelled")
        for column, event_field in spec.outputs:
            if rows:
                value = rows[0][column]
                if value == "":
                    raise UnsupportedConstruct(f"{key}: an empty output cell is not modelled")
                values = [value]
            elif table.min_matches > 0:
                if table.default_match is None:
                    raise UnsupportedConstruct(f"{key}: min_matches without default_match is not modelled")
                values = [table.default_match] * table.min_matches
            elif spec.output_new:
                continue
            else:
                raise UnsupportedConstruct(f"{key}: OUTPUT without a match and without default_match is not modelled")
            if spec.output_new and fields.get(event_field):
                continue  # OUTPUTNEW never replaces an existing field
            fields[event_field] = values

    @staticmethod
    def _matches(terms: list[tuple[str, str]], fields: Fields) -> bool:
        # Search terms compare values without regard to case; a multivalue field matches if
        # any of its values does.
        return all(any(value.lower() == wanted.lower() for value in fields.get(name, [])) for name, wanted in terms)


def first(fields: Fields, name: str) -> str | None:
    """The single value of a field, or None when it is absent (raises for a multivalue field)."""
    values = fields.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise ValueError(f"{name} is multivalue: {values!r}")
    return values[0]
