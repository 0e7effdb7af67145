"""Tests of the offline Splunk model itself: it follows Splunk's documented semantics and refuses the rest.

test_cim_alerts.py is only as good as splunk_search_time.py, so each construct the add-on's .conf
files use is pinned here on small synthetic configurations: .conf syntax, JSON auto-extraction
naming, the order FIELDALIAS -> EVAL -> LOOKUP, EVAL independence and null handling, lookup
matching, event types, tags, event breaking and timestamps -- and that anything else raises.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.knowledge.splunk_search_time import (
    ConfError,
    EvalTypeError,
    Fields,
    Knowledge,
    UnsupportedConstruct,
    evaluate,
    first,
    json_auto_kv,
    parse_conf,
    parse_eval,
)

ST = "test:json"


def props(*lines: str) -> str:
    return "\n".join([f"[{ST}]", "KV_MODE = json", *lines]) + "\n"


def run(
    conf: str,
    raw: str = "{}",
    transforms: str = "",
    eventtypes: str = "",
    tags: str = "",
    lookups: dict[str, str] | None = None,
) -> Fields:
    return Knowledge.from_texts(conf, transforms, eventtypes, tags, lookups).search(raw, ST)


def calc(expression: str, raw: str = "{}") -> Fields:
    return run(props(f"EVAL-out = {expression}"), raw)


# ---- .conf syntax ----------------------------------------------------------------------------


def test_conf_syntax_stanzas_comments_and_continuation() -> None:
    conf = parse_conf(
        "top = 1\n"
        "# a comment\n"
        "   # an indented comment\n"
        "[one]\n"
        "a = x # not a comment\n"
        "b = first \\\n"
        "    second\n"
        "[two]\n"
        "c=3\n"
        "[one]\n"
        "d = 4\n"
    )
    assert conf == {
        "default": {"top": "1"},
        "one": {"a": "x # not a comment", "b": "first \n    second", "d": "4"},
        "two": {"c": "3"},
    }


@pytest.mark.parametrize("text", ["[s]\na = 1\na = 2\n", "[s]\njust words\n", "[s\na = 1\n", "[s]\n = 1\n"])
def test_conf_errors(text: str) -> None:
    with pytest.raises(ConfError):
        parse_conf(text)


def test_continued_eval_is_one_expression() -> None:
    fields = run(props("EVAL-out = case( \\", "    true(), \\", '    "yes")'))
    assert first(fields, "out") == "yes"


# ---- KV_MODE = json -----------------------------------------------------------------------------


def test_json_naming_with_dots_and_braces() -> None:
    fields = json_auto_kv(
        '{"a":"x","n":{"b":"y","c":{"d":1.50}},"arr":["p","q"],"objs":[{"k":"1"},{"k":null,"z":true}],'
        '"nested":[[1,2],[3]],"empty":[],"none":{},"nul":null,"f":false,"s":"","u":"\\u00e9\\n"}'
    )
    assert fields == {
        "a": ["x"],
        "n.b": ["y"],
        "n.c.d": ["1.50"],
        "arr{}": ["p", "q"],
        "objs{}.k": ["1", "null"],
        "objs{}.z": ["true"],
        "nested{}{}": ["1", "2", "3"],
        "nul": ["null"],
        "f": ["false"],
        "s": [""],
        "u": ["\u00e9\n"],
    }


def test_json_extraction_cutoff_keeps_only_complete_values() -> None:
    raw = '{"a":"1234","b":"5678","c":12345,"d":true}'
    assert json_auto_kv(raw, extraction_cutoff=len(raw)) == json_auto_kv(raw)
    assert json_auto_kv(raw, extraction_cutoff=raw.index('"b"') + 6) == {"a": ["1234"]}
    assert json_auto_kv(raw, extraction_cutoff=raw.index("12345") + 5) == {"a": ["1234"], "b": ["5678"]}
    assert json_auto_kv(raw, extraction_cutoff=len(raw) - 3) == {"a": ["1234"], "b": ["5678"], "c": ["12345"]}


def test_json_that_is_not_an_object_or_is_broken_is_refused() -> None:
    for raw in ('["a"]', '{"a":1', '{"a":1}x'):
        with pytest.raises(ValueError):
            json_auto_kv(raw)


def test_json_fields_are_search_time_fields() -> None:
    fields = run(props(), '{"relatedUser":{"userName":"u"},"mitreTechniques":["T1","T2"]}')
    assert fields["relatedUser.userName"] == ["u"]
    assert fields["mitreTechniques{}"] == ["T1", "T2"]
    assert fields["sourcetype"] == [ST]


# ---- eval ------------------------------------------------------------------------------------


def test_evals_of_a_stanza_do_not_see_each_other() -> None:
    conf = props('EVAL-a = "from eval"', "EVAL-b = 'a' . \"+\"")
    assert run(conf, '{"a":"raw"}')["b"] == ["raw+"]  # the raw a, not EVAL-a's result
    assert run(conf, '{"a":"raw"}')["a"] == ["from eval"]
    assert "b" not in run(conf, "{}")  # no raw a: b is null, whatever EVAL-a computes
    knowledge = Knowledge.from_texts(conf)
    assert knowledge.sourcetype(ST).eval_cross_references() == {"b": {"a"}}


def test_eval_sees_aliases_and_lookup_sees_evals() -> None:
    conf = props(
        "FIELDALIAS-x = raw AS aliased",
        "EVAL-computed = 'aliased' . \"!\"",
        "LOOKUP-t = table key AS computed OUTPUT value AS looked_up",
    )
    transforms = "[table]\nfilename = t.csv\n"
    fields = run(conf, '{"raw":"k"}', transforms=transforms, lookups={"t.csv": "key,value\nk!,found\n"})
    assert fields["aliased"] == ["k"]
    assert fields["computed"] == ["k!"]
    assert fields["looked_up"] == ["found"]


def test_string_escapes_and_field_quoting() -> None:
    assert first(calc('"a\\\\b"'), "out") == "a\\b"
    assert first(calc('"say \\"hi\\""'), "out") == 'say "hi"'
    assert first(calc('"\\d"'), "out") == "\\d"
    assert first(calc("'x.y' . 'k{}'", '{"x":{"y":"1"},"k":["2"]}'), "out") == "12"
    assert first(calc("x.y", '{"x":"a","y":"b","x.y":"no"}'), "out") == "ab"  # bare names: '.' concatenates


def test_null_propagates_and_case_skips_null_conditions() -> None:
    assert "out" not in calc("'missing' . \"x\"")
    assert "out" not in calc("match('missing', \"a\")")
    assert first(calc('case(match(\'missing\', "a"), "m", true(), "d")'), "out") == "d"
    assert "out" not in calc('case(match(\'missing\', "a"), "m")')


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        ("a", "a", True),
        ("a", "b", False),
        ("b", "a", False),
        ("a", "missing", None),
        ("missing", "b", False),
        ("missing", "missing", None),
    ],
)
def test_and_is_three_valued(left: str, right: str, expected: bool | None) -> None:
    fields: Fields = {"a": ["x"], "b": ["y"]}
    condition = parse_eval(f"match('{left}', \"x\") AND match('{right}', \"x\")")
    assert evaluate(condition, fields) is expected


def test_match_mvfind_mvindex_mvdedup() -> None:
    raw = '{"m":["a","User","b","User"],"n":["0","1","2","3"]}'
    assert first(calc("mvfind('m{}', \"^User$\")", raw), "out") == "1"
    assert "out" not in calc("mvfind('m{}', \"^none$\")", raw)
    assert first(calc("mvindex('n{}', mvfind('m{}', \"^User$\"))", raw), "out") == "1"
    assert first(calc("mvindex('n{}', 3)", raw), "out") == "3"
    assert "out" not in calc("mvindex('n{}', 4)", raw)
    assert "out" not in calc("mvindex('n{}', mvfind('m{}', \"^none$\"))", raw)
    assert calc("mvdedup('m{}')", raw)["out"] == ["a", "User", "b"]
    assert first(calc("mvfind('s', \"x\")", '{"s":"x"}'), "out") == "0"  # a single value is a 1-value field
    assert first(calc("mvindex('s', 0)", '{"s":"x"}'), "out") == "x"


def test_boolean_result_cannot_be_stored() -> None:
    with pytest.raises(EvalTypeError):
        calc("match('s', \"x\")", '{"s":"x"}')


def test_and_needs_booleans() -> None:
    with pytest.raises(EvalTypeError):
        calc("case('s' AND true(), \"x\")", '{"s":"x"}')


def test_eval_syntax_errors() -> None:
    for expression in ('case(true(), "a"', '"unterminated', "case(true())", "f(,)"):
        with pytest.raises((ConfError, UnsupportedConstruct)):
            parse_eval(expression)


@pytest.mark.parametrize(
    "expression",
    [
        "lower('a')",
        "coalesce('a', \"b\")",
        "'a' + 1",
        "'a' == \"b\"",
        "'a' != \"b\"",
        'case(true() OR true(), "x")',
        'case(NOT true(), "x")',
        'case(true() and true(), "x")',
        "1.5",
        "mvindex('a', 0, 1)",
        "null",
        "'a' . null()",
    ],
)
def test_eval_constructs_not_modelled_raise(expression: str) -> None:
    with pytest.raises(UnsupportedConstruct):
        parse_eval(expression)


def test_multivalue_into_a_scalar_function_is_not_modelled() -> None:
    with pytest.raises(UnsupportedConstruct):
        evaluate(parse_eval("'m' . \"x\""), {"m": ["a", "b"]})


# ---- FIELDALIAS ------------------------------------------------------------------------------


def test_fieldalias_as_overwrites_and_removes_asnew_keeps() -> None:
    conf = props("FIELDALIAS-a = src AS over", "FIELDALIAS-b = src ASNEW keep", "FIELDALIAS-c = gone AS cleared")
    fields = run(conf, '{"src":"s","over":"o","keep":"k","cleared":"c"}')
    assert fields["over"] == ["s"]
    assert fields["keep"] == ["k"]
    assert "cleared" not in fields
    assert run(conf, '{"src":"s"}')["keep"] == ["s"]


@pytest.mark.parametrize(
    "setting",
    [
        "FIELDALIAS-a = x AS y y AS z",  # chaining
        "FIELDALIAS-a = x AS y\nFIELDALIAS-b = w AS y",  # two aliases, one field
        'FIELDALIAS-a = "x" AS y',
        "FIELDALIAS-a = x as y",
    ],
)
def test_fieldalias_not_modelled_raise(setting: str) -> None:
    with pytest.raises(UnsupportedConstruct):
        Knowledge.from_texts(props(setting))


# ---- LOOKUP ----------------------------------------------------------------------------------

TABLE = "key,value,other\nHigh,h,1\nLow,l,2\n"


def lookup(raw: str, transform_settings: str = "", output: str = "OUTPUT value") -> Fields:
    conf = props(f"LOOKUP-t = table key AS k {output}")
    transforms = f"[table]\nfilename = t.csv\n{transform_settings}"
    return run(conf, raw, transforms=transforms, lookups={"t.csv": TABLE})


def test_lookup_is_case_sensitive_by_default() -> None:
    assert lookup('{"k":"High"}')["value"] == ["h"]
    with pytest.raises(UnsupportedConstruct):  # no match, no default: Splunk's result is not modelled
        lookup('{"k":"high"}')
    assert lookup('{"k":"high"}', "case_sensitive_match = false\n")["value"] == ["h"]


def test_lookup_default_match_and_missing_input() -> None:
    settings = "min_matches = 1\ndefault_match = none\n"
    assert lookup('{"k":"Other"}', settings)["value"] == ["none"]
    assert "value" not in lookup("{}", settings)  # no input field: no lookup at all


def test_lookup_output_overwrites_outputnew_keeps() -> None:
    assert lookup('{"k":"High","value":"raw"}')["value"] == ["h"]
    assert lookup('{"k":"High","value":"raw"}', output="OUTPUTNEW value")["value"] == ["raw"]
    assert lookup('{"k":"High"}', output="OUTPUTNEW value")["value"] == ["h"]
    assert lookup('{"k":"Low"}', output="OUTPUT value AS v other")["v"] == ["l"]


@pytest.mark.parametrize(
    ("setting", "transforms"),
    [
        ("LOOKUP-t = table key", "[table]\nfilename = t.csv\n"),
        ("LOOKUP-t = table key output value", "[table]\nfilename = t.csv\n"),
        ("LOOKUP-t = table key OUTPUTNEW value other", "[table]\nfilename = t.csv\n"),
        ("LOOKUP-t = table key OUTPUT value", "[table]\nfilename = t.csv\nmatch_type = WILDCARD(key)\n"),
        ("LOOKUP-t = table key OUTPUT value", "[table]\nexternal_cmd = x.py key value\n"),
        ("LOOKUP-t = table key OUTPUT value", "[table]\nREGEX = (.)\nFORMAT = a::$1\n"),
    ],
)
def test_lookup_not_modelled_raise(setting: str, transforms: str) -> None:
    with pytest.raises(UnsupportedConstruct):
        Knowledge.from_texts(props(setting), transforms=transforms, lookups={"t.csv": TABLE})


def test_lookup_definition_errors() -> None:
    with pytest.raises(ConfError):
        Knowledge.from_texts(props("LOOKUP-t = nope key OUTPUT value"))
    with pytest.raises(ConfError):
        Knowledge.from_texts(
            props("LOOKUP-t = table key OUTPUT missing"),
            transforms="[table]\nfilename = t.csv\n",
            lookups={"t.csv": TABLE},
        )


# ---- props settings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "setting",
    [
        "REPORT-x = some_transform",
        "EXTRACT-x = (?<f>\\w+)",
        "KV_MODE = auto",
        "INDEXED_EXTRACTIONS = json",
        "SEDCMD-x = s/a/b/",
        "category = Security",
        'eval-x = "lower case key"',
    ],
)
def test_props_settings_not_modelled_raise(setting: str) -> None:
    with pytest.raises(UnsupportedConstruct):
        Knowledge.from_texts(f"[{ST}]\n{setting}\n")


@pytest.mark.parametrize("stanza", ["source::/var/log/x", "host::h", "rule::r", "test:*", "default"])
def test_props_stanzas_not_modelled_raise(stanza: str) -> None:
    with pytest.raises(UnsupportedConstruct):
        Knowledge.from_texts(f"[{stanza}]\nKV_MODE = json\n")


def test_default_kv_mode_and_unknown_sourcetype_raise() -> None:
    with pytest.raises(UnsupportedConstruct):
        Knowledge.from_texts(f'[{ST}]\nEVAL-a = "x"\n').search("{}", ST)
    with pytest.raises(UnsupportedConstruct):
        Knowledge.from_texts(props()).search("{}", "other:sourcetype")


# ---- event types and tags ------------------------------------------------------------------------

EVENTTYPES = f'[mine]\nsearch = sourcetype={ST} kinds{{}}="Some Thing"\n[other]\nsearch = sourcetype=nope\n'
TAGS = "[eventtype=mine]\nalert = enabled\nold = disabled\n[kind=Some%20Thing]\nthing = enabled\n"


def test_eventtypes_and_tags() -> None:
    fields = run(props(), '{"kinds":["x","some thing"]}', eventtypes=EVENTTYPES, tags=TAGS)
    assert fields["eventtype"] == ["mine"]  # values compare without case; any value of a multivalue field
    assert fields["tag"] == ["alert"]
    assert fields["tag::eventtype"] == ["alert"]
    fields = run(props(), '{"kinds":["Some Thing"],"kind":"Some Thing"}', eventtypes=EVENTTYPES, tags=TAGS)
    assert fields["tag"] == ["alert", "thing"]
    assert fields["tag::kind"] == ["thing"]
    assert "eventtype" not in run(props(), '{"kinds":["else"]}', eventtypes=EVENTTYPES, tags=TAGS)


@pytest.mark.parametrize(
    "search",
    [
        "sourcetype=a OR sourcetype=b",
        "sourcetype=a*",
        "sourcetype=a NOT x=y",
        "error",
        "(sourcetype=a)",
        "sourcetype!=a",
        "index=main | where x=1",
    ],
)
def test_eventtype_searches_not_modelled_raise(search: str) -> None:
    with pytest.raises(UnsupportedConstruct):
        Knowledge.from_texts(props(), eventtypes=f"[e]\nsearch = {search}\n")


def test_tags_need_enabled_or_disabled() -> None:
    with pytest.raises(ConfError):
        Knowledge.from_texts(props(), tags="[eventtype=e]\nalert = yes\n")


# ---- index time ---------------------------------------------------------------------------------

INDEX_TIME = (
    "SHOULD_LINEMERGE = false",
    "LINE_BREAKER = ([\\r\\n]+)",
    "TRUNCATE = 40",
    'TIME_PREFIX = "t":"',
    "TIME_FORMAT = %Y-%m-%dT%H:%M:%S.%7N%Z",
    "MAX_TIMESTAMP_LOOKAHEAD = 28",
)


def test_line_breaker_discards_the_capture_group_only() -> None:
    knowledge = Knowledge.from_texts(
        props(
            *INDEX_TIME[:1],
            "LINE_BREAKER = \\}(\\s*)\\{",
            'TIME_PREFIX = "t":"',
            "TIME_FORMAT = %Y-%m-%dT%H:%M:%S.%7N%Z",
        )
    )
    events = knowledge.index('{"t":"2020-01-01T00:00:00.1Z"}  \n {"t":"2020-01-01T00:00:01.2Z"}', ST)
    # The } before the group ends the first event, the { after it starts the second.
    assert [event.raw for event in events] == ['{"t":"2020-01-01T00:00:00.1Z"}', '{"t":"2020-01-01T00:00:01.2Z"}']


def test_truncate_counts_bytes() -> None:
    knowledge = Knowledge.from_texts(props(*INDEX_TIME))
    short = '{"t":"2020-01-01T00:00:00.1Z","a":"b"}'
    long = '{"t":"2020-01-01T00:00:00.1Z","a":"\u00e9\u00e9"}'
    assert len(short) < 40 and len(long) < 40 < len(long.encode("utf-8"))
    events = knowledge.index(short + "\n" + long, ST)
    assert [event.truncated for event in events] == [False, True]


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2021-01-26T20:33:59.2Z", Decimal("1611693239.2")),
        ("2024-03-01T10:00:44.7733333Z", Decimal("1709287244.7733333")),
        ("1970-01-01T00:00:00.0Z", Decimal("0")),
    ],
)
def test_timestamp_with_shortened_fractions(stamp: str, expected: Decimal) -> None:
    knowledge = Knowledge.from_texts(props(*INDEX_TIME))
    assert knowledge.timestamp(f'{{"x":1,"t":"{stamp}"}}', ST) == expected


def test_timestamp_failures() -> None:
    knowledge = Knowledge.from_texts(props(*INDEX_TIME[:-1], "MAX_TIMESTAMP_LOOKAHEAD = 20"))
    with pytest.raises(ValueError):  # lookahead ends before the fraction
        knowledge.timestamp('{"t":"2024-03-01T10:00:44.7733333Z"}', ST)
    knowledge = Knowledge.from_texts(props(*INDEX_TIME))
    for raw in ('{"u":"2024-03-01T10:00:44.7Z"}', '{"t":"2024-02-30T10:00:44.7Z"}', '{"t":"2024-03-01 10:00:44.7Z"}'):
        with pytest.raises(ValueError):
            knowledge.timestamp(raw, ST)


def test_timestamp_settings_not_modelled_raise() -> None:
    without_zone = props(*INDEX_TIME[:4], "TIME_FORMAT = %Y-%m-%dT%H:%M:%S.%7N")
    with pytest.raises(UnsupportedConstruct):  # no %Z and no TZ: the server's zone would apply
        Knowledge.from_texts(without_zone).timestamp('{"t":"2024-03-01T10:00:44.7Z"}', ST)
    assert Knowledge.from_texts(without_zone + "TZ = UTC\n").timestamp('{"t":"2024-03-01T10:00:44.7Z"}', ST) == Decimal(
        "1709287244.7"
    )
    with pytest.raises(UnsupportedConstruct):
        Knowledge.from_texts(props(*INDEX_TIME[:4], "TIME_FORMAT = %s")).timestamp('{"t":"1"}', ST)
    with pytest.raises(UnsupportedConstruct):
        Knowledge.from_texts(props("SHOULD_LINEMERGE = true")).index("{}", ST)
    with pytest.raises(UnsupportedConstruct):
        Knowledge.from_texts(props()).index("{}", ST)  # SHOULD_LINEMERGE defaults to true
