"""YAML read and written as gopkg.in/yaml.v2 does (what `bosh int` prints)."""

from __future__ import annotations

import math

import pytest

from bosh_core import go_yaml


@pytest.mark.parametrize(
    ("plain", "value"),
    [
        ("y", True),
        ("Off", False),
        ("~", None),
        ("", None),
        ("0755", 0o755),
        ("0x1F", 31),
        ("0o17", 15),
        ("0b101", 5),
        ("-0b101", -5),
        ("1_000", 1000),
        ("+12", 12),
        ("1e3", 1000.0),
        ("08", 8.0),
        (".5", 0.5),
        ("1.0", 1.0),
        ("99999999999999999999", 1e20),
        ("18446744073709551615", 18446744073709551615),
        ("2001-12-14", "2001-12-14"),
        ("2001-12-14T21:59:43.10Z", "2001-12-14T21:59:43.10Z"),
        ("190:20:30", "190:20:30"),
        ("1.2.3", "1.2.3"),
        ("yes please", "yes please"),
        ("0x", "0x"),
    ],
)
def test_plain_scalars_take_yaml_v2_types(plain: str, value: object) -> None:
    resolved = go_yaml.resolve_plain(plain)
    assert resolved == value
    assert type(resolved) is type(value)


def test_special_floats() -> None:
    assert math.isnan(go_yaml.resolve_plain(".NaN"))
    assert go_yaml.resolve_plain("-.inf") == -math.inf


def test_load_keeps_quoted_strings_and_the_last_of_repeated_keys() -> None:
    document = go_yaml.load("a: '5'\nb: 5\nb: 6\nc: &x {k: 1}\nd:\n  <<: *x\n  l: 2\n", source="t")
    assert document == {"a": "5", "b": 6, "c": {"k": 1}, "d": {"k": 1, "l": 2}}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.2, "1.2"),
        (1.0, "1"),
        (100.0, "100"),
        (123456.0, "123456"),
        (1000000.0, "1e+06"),
        (1234567.0, "1.234567e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1.5e-7, "1.5e-07"),
        (-2.5, "-2.5"),
        (-0.0, "-0"),
        (math.inf, ".inf"),
    ],
)
def test_floats_are_formatted_as_go_prints_them(value: float, text: str) -> None:
    assert go_yaml.format_float(value) == text


def test_key_order_matches_yaml_v2() -> None:
    # Worked out from yaml.v2's sorter: digit runs compare by value, letters sort after
    # other characters, numbers (and booleans) before strings.
    assert go_yaml.key_order(["a10", "a2", "a1", "b", "a"]) == ["a", "a1", "a2", "a10", "b"]
    assert go_yaml.key_order(["Zx", "1x", "_x"]) == ["_x", "1x", "Zx"]
    assert go_yaml.key_order(["file-010", "file-9", "file-10"]) == [
        "file-9",
        "file-10",  # equal values: the shorter digit run first
        "file-010",
    ]
    assert go_yaml.key_order(["b", 10, 2, True, 1.5]) == [True, 1.5, 2, 10, "b"]
    assert list(go_yaml.sorted_maps({"b": {"y": 1, "x": 2}, "a": [{"d": 1}]})) == ["a", "b"]


def test_dump_quotes_what_would_read_back_as_another_type() -> None:
    document = {
        "version": "1.2",
        "flag": "yes",
        "empty": "",
        "date": "2001-12-14",
        "sexagesimal": "190:20:30",
        "colon": "foo: bar",
        "plain": "hello world",
        "number": 5,
        "float": 1.0,
        "none": None,
        "list": [],
        "map": {},
        "text": "line one\nline two\n",
    }
    assert go_yaml.dump(document) == (
        "colon: 'foo: bar'\n"
        'date: "2001-12-14"\n'
        'empty: ""\n'
        'flag: "yes"\n'
        "float: 1\n"
        "list: []\n"
        "map: {}\n"
        "none: null\n"
        "number: 5\n"
        "plain: hello world\n"
        'sexagesimal: "190:20:30"\n'
        "text: |\n  line one\n  line two\n"
        'version: "1.2"\n'
    )


def test_dump_of_a_scalar_has_no_document_end_marker() -> None:
    assert go_yaml.dump("abc") == "abc\n"


def test_long_plain_strings_fold_at_the_first_space_past_80_columns() -> None:
    words = " ".join(["word"] * 30)
    first, second = " ".join(["word"] * 16), " ".join(["word"] * 14)
    assert go_yaml.dump({"k": words}) == f"k: {first}\n  {second}\n"


def test_struct_documents_keep_their_field_order() -> None:
    assert go_yaml.dump({"name": "x", "blobstore": {"b": 1}}, sort_keys=False) == (
        "name: x\nblobstore:\n  b: 1\n"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # yaml.v2: the problem mark's 0-based line (scanner errors add one), else none.
        ("a: b: c\n", "yaml: mapping values are not allowed in this context"),
        ("a:\n  - b\n c: d\n", "yaml: line 2: did not find expected key"),
        ('a: "x\n', "yaml: line 2: found unexpected end of stream"),
        ("a: [1, 2\nb: 3\n", "yaml: line 1: did not find expected ',' or ']'"),
    ],
)
def test_syntax_errors_read_as_yaml_v2_words_them(text: str, message: str) -> None:
    with pytest.raises(go_yaml.GoYAMLError) as raised:
        go_yaml.load(text, source="t.yml")
    assert str(raised.value) == message
