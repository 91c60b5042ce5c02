"""go-patch as the reference applies it: pointers, operations, ops files, find, errors."""

from __future__ import annotations

from typing import Any

import pytest

from bosh_core import go_yaml
from bosh_core.interpolate import patch
from bosh_core.interpolate.errors import (
    InterpolateError,
    MissingIndexError,
    MissingMapKeyError,
    OperationFailedError,
    OpsFileError,
    PatchError,
    PointerError,
)
from bosh_core.interpolate.patch import (
    AfterLastIndexToken,
    IndexToken,
    KeyToken,
    MatchingIndexToken,
    Modifier,
    Ops,
    Pointer,
    RemoveOp,
    ReplaceOp,
    find,
    ops_from_document,
    ops_from_yaml,
)

DOC = """\
name: shop
list: [a, b, c]
empty_list: []
empty_map: {}
nothing: null
number: 5
nested: {a: {b: {c: 1}}}
groups:
- name: api
  jobs: [{name: j1}, {name: j2, x: 1}]
- name: db
  size: 1
- name: 5
- plain
- [inner, list]
- name: twice
- name: twice
"""

GROUPS_KEYS = (
    "found map keys: 'empty_list', 'empty_map', 'groups',"
    " 'list', 'name', 'nested', 'nothing', 'number'"
)


def document() -> Any:
    return go_yaml.load(DOC, source="doc.yml")


def replaced(path: str, value: Any) -> Any:
    return Ops((ReplaceOp(Pointer.parse(path), value),)).apply(document())


def removed(path: str) -> Any:
    return Ops((RemoveOp(Pointer.parse(path)),)).apply(document())


def at(result: Any, path: str) -> Any:
    return find(result, Pointer.parse(path))


# -- pointers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("", ()),
        ("/", (KeyToken(""),)),
        ("/a", (KeyToken("a"),)),
        ("/a?", (KeyToken("a", optional=True),)),
        ("/a?/b", (KeyToken("a", optional=True), KeyToken("b", optional=True))),
        ("/0", (IndexToken(0),)),
        ("/-1", (IndexToken(-1),)),
        ("/+3", (IndexToken(3),)),
        ("/007", (IndexToken(7),)),
        ("/9223372036854775807", (IndexToken(9223372036854775807),)),
        ("/9223372036854775808", (KeyToken("9223372036854775808"),)),
        ("/1_0", (KeyToken("1_0"),)),
        ("/0x10", (KeyToken("0x10"),)),
        ("/-", (AfterLastIndexToken(),)),
        ("/-/a", (KeyToken("-"), KeyToken("a"))),
        ("/0:prev:next", (IndexToken(0, (Modifier.PREV, Modifier.NEXT)),)),
        ("/name=web", (MatchingIndexToken("name", "web"),)),
        ("/name=web?", (MatchingIndexToken("name", "web", optional=True),)),
        ("/name=a=b", (MatchingIndexToken("name", "a=b"),)),
        ("/=", (MatchingIndexToken("", ""),)),
        (
            "/name=web?:after",
            (MatchingIndexToken("name", "web", optional=True, modifiers=(Modifier.AFTER,)),),
        ),
        ("/a?=b", (MatchingIndexToken("a?", "b", optional=False),)),
        ("/a??", (KeyToken("a?", optional=True),)),
        ("/~0~1~7", (KeyToken("~/:"),)),
        ("/~01", (KeyToken("~1"),)),
        ("/~2", (KeyToken("~2"),)),
        ("/0~7prev", (KeyToken("0:prev"),)),
        ("/~7-", (KeyToken(":-"),)),
    ],
)
def test_pointers_parse_into_tokens(text: str, tokens: tuple[patch.Token, ...]) -> None:
    assert Pointer.parse(text).tokens == tokens


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("", ""),
        ("/", "/"),
        ("//", "//"),
        ("/a?/b?/c", "/a?/b/c"),
        ("/a/b?/c", "/a/b?/c"),
        ("/a?/name=x", "/a?/name=x"),
        ("/a/name=x?/b/c", "/a/name=x?/b/c"),
        ("/+3", "/3"),
        ("/-0", "/0"),
        ("/007", "/7"),
        ("/0:before:prev", "/0:before:prev"),
        ("/name=~1x", "/name=~1x"),
        ("/k~7v/~0", "/k~7v/~0"),
        ("/~01", "/~01"),
        ("/~2", "/~02"),
        ("/?", "/?"),
        ("/name=x??", "/name=x??"),
        ("/ä/ü=ö", "/ä/ü=ö"),
        ("/a?/-", "/a?/-"),
    ],
)
def test_pointers_print_as_the_reference(text: str, shown: str) -> None:
    assert str(Pointer.parse(text)) == shown


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a", "Expected to start with '/'"),
        ("a/b", "Expected to start with '/'"),
        (
            "/0:bad",
            "Expected to find one of the following modifiers: 'prev', 'next', 'before',"
            " or 'after' but found 'bad'",
        ),
        (
            # The reference names the first modifier, not the wrong one.
            "/0:prev:bad",
            "Expected to find one of the following modifiers: 'prev', 'next', 'before',"
            " or 'after' but found 'prev'",
        ),
        (
            "/a:",
            "Expected to find one of the following modifiers: 'prev', 'next', 'before',"
            " or 'after' but found ''",
        ),
        (
            "/name=x:before?",
            "Expected to find one of the following modifiers: 'prev', 'next', 'before',"
            " or 'after' but found 'before?'",
        ),
        ("/-:before", "Expected not to find any modifiers with after last index token"),
        ("/a:prev", "Expected not to find any modifiers with key token"),
        ("/a?:next/b", "Expected not to find any modifiers with key token"),
    ],
)
def test_bad_pointers_say_why(text: str, message: str) -> None:
    with pytest.raises(PointerError) as raised:
        Pointer.parse(text)
    assert str(raised.value) == message


# -- replace ----------------------------------------------------------------------------


def test_replace_sets_an_existing_key_in_place() -> None:
    result = replaced("/number", 6)
    assert result["number"] == 6
    assert list(result) == list(document())


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/list/0", ["X", "b", "c"]),
        ("/list/-1", ["a", "b", "X"]),
        ("/list/-3", ["X", "b", "c"]),
        ("/list/1:prev", ["X", "b", "c"]),
        ("/list/1:next", ["a", "b", "X"]),
        ("/list/0:before", ["X", "a", "b", "c"]),
        ("/list/0:after", ["a", "X", "b", "c"]),
        ("/list/2:after", ["a", "b", "c", "X"]),
        ("/list/-1:after", ["a", "b", "c", "X"]),
        ("/list/1:prev:before", ["X", "a", "b", "c"]),
        ("/list/0:next:after", ["a", "b", "X", "c"]),
        ("/list/-", ["a", "b", "c", "X"]),
    ],
)
def test_replace_at_an_index_overwrites_or_inserts(path: str, expected: list[str]) -> None:
    assert replaced(path, "X")["list"] == expected


def test_replace_appends_to_an_empty_array() -> None:
    assert replaced("/empty_list/-", "X")["empty_list"] == ["X"]


@pytest.mark.parametrize(
    ("path", "created"),
    [
        ("/new?", "X"),
        ("/new?/a/b", {"a": {"b": "X"}}),
        ("/new?/-", ["X"]),
        ("/new?/name=web", ["X"]),
        ("/new?/name=web/size", [{"name": "web", "size": "X"}]),
        ("/new?/name=web/jobs/-", [{"name": "web", "jobs": ["X"]}]),
    ],
)
def test_replace_creates_missing_optional_steps(path: str, created: Any) -> None:
    assert replaced(path, "X")["new"] == created


def test_replace_finds_or_appends_an_optional_array_item() -> None:
    result = replaced("/groups/name=api/jobs/name=j3?/release", "shop")
    assert result["groups"][0]["jobs"][-1] == {"name": "j3", "release": "shop"}
    result = replaced("/groups/name=api/jobs/name=j2?/x", 2)
    assert result["groups"][0]["jobs"] == [{"name": "j1"}, {"name": "j2", "x": 2}]
    result = replaced("/groups/name=api/jobs/name=j3?", {"name": "j3"})
    assert result["groups"][0]["jobs"][-1] == {"name": "j3"}


def test_replace_by_name_with_modifiers() -> None:
    result = replaced("/groups/name=db:before", {"name": "cache"})
    assert [group["name"] for group in result["groups"][:3]] == ["api", "cache", "db"]
    result = replaced("/groups/name=db:after", {"name": "cache"})
    assert [group["name"] for group in result["groups"][:3]] == ["api", "db", "cache"]
    result = replaced("/groups/name=api:next/size", 3)
    assert result["groups"][1] == {"name": "db", "size": 3}


def test_replace_of_the_root_is_the_value() -> None:
    assert replaced("", {"a": 1}) == {"a": 1}


def test_replace_through_a_modifier_to_a_non_map_item_writes_where_the_reference_does() -> None:
    # go-patch keeps the array's own writer after `name=..:next`: the inner list it reaches
    # replaces the whole `groups` array. Surprising, and what `bosh int` prints.
    doc = {"groups": [{"name": "a"}, ["inner"]]}
    result = Ops((ReplaceOp(Pointer.parse("/groups/name=a:next/-"), "X"),)).apply(doc)
    assert result == {"groups": ["inner", "X"]}


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (
            "/missing/a",
            "Expected to find a map key 'missing' for path '/missing' (" + GROUPS_KEYS + ")",
        ),
        (
            "/empty_map/a/b",
            "Expected to find a map key 'a' for path '/empty_map/a' (found no other map keys)",
        ),
        ("/nothing/a", "Expected to find a map at path '/nothing/a' but found '<nil>'"),
        ("/nothing?/a", "Expected to find a map at path '/nothing?/a' but found '<nil>'"),
        ("/number/a", "Expected to find a map at path '/number/a' but found 'int'"),
        ("/name/0", "Expected to find an array at path '/name/0' but found 'string'"),
        (
            "/nested/0",
            "Expected to find an array at path '/nested/0' but"
            " found 'map[interface {}]interface {}'",
        ),
        ("/list/name", "Expected to find a map at path '/list/name' but found '[]interface {}'"),
        (
            "/list/3",
            "Expected to find array index '3' but found array of length '3' for path '/list/3'",
        ),
        (
            "/list/-4",
            "Expected to find array index '-4' but found array of length '3' for path '/list/-4'",
        ),
        (
            "/list/2:next",
            "Expected to find array index '3' but found array of"
            " length '3' for path '/list/2:next'",
        ),
        (
            "/empty_list/0",
            "Expected to find array index '0' but found array of"
            " length '0' for path '/empty_list/0'",
        ),
        ("/list/-/x", "Expected to find a map at path '/list/-' but found '[]interface {}'"),
        (
            "/new?/0",
            "Expected to find key, matching index or after last index token at path '/new?/0'",
        ),
        (
            "/groups/name=web",
            "Expected to find exactly one matching array item for"
            " path '/groups/name=web' but found 0",
        ),
        (
            "/groups/name=twice",
            "Expected to find exactly one matching array item for"
            " path '/groups/name=twice' but found 2",
        ),
        # Only string values match: `name: 5` is an int.
        (
            "/groups/name=5",
            "Expected to find exactly one matching array item for"
            " path '/groups/name=5' but found 0",
        ),
        (
            "/list/0:before:prev",
            "Expected to not find any modifiers after 'before'"
            " modifier, but found modifier 'patch.PrevModifier'",
        ),
        (
            "/list/0:after:after",
            "Expected to not find any modifiers after 'after' modifier,"
            " but found modifier 'patch.AfterModifier'",
        ),
        (
            "/list/0:before/x",
            "Expected to find one of the following modifiers: 'prev',"
            " 'next', but found modifier 'patch.BeforeModifier'",
        ),
        (
            "/groups/name=api:after/x",
            "Expected to find one of the following modifiers: 'prev',"
            " 'next', but found modifier 'patch.AfterModifier'",
        ),
        ("/groups/3/0", "Expected to find an array at path '/groups/3/0' but found 'string'"),
    ],
)
def test_replace_errors(path: str, message: str) -> None:
    with pytest.raises(PatchError) as raised:
        replaced(path, "X")
    assert str(raised.value) == message


def test_an_after_last_index_step_must_be_the_last() -> None:
    # Pointer.parse reads a `-` that is not last as a key; a built pointer can hold it.
    path = Pointer((KeyToken("list"), AfterLastIndexToken(), KeyToken("x")))
    with pytest.raises(PatchError) as raised:
        Ops((ReplaceOp(path, 1),)).apply(document())
    assert str(raised.value) == "Expected after last index token to be last in path '/list/-/x'"


def test_a_missing_key_error_names_the_path_up_to_the_key() -> None:
    with pytest.raises(MissingMapKeyError) as raised:
        replaced("/nested/a/x/y", 1)
    assert raised.value.path == "/nested/a/x"
    assert str(raised.value) == (
        "Expected to find a map key 'x' for path '/nested/a/x' (found map keys: 'b')"
    )


def test_missing_key_errors_list_only_string_keys_sorted() -> None:
    with pytest.raises(MissingMapKeyError) as raised:
        find({"m": {1: "a", None: "b", "z": 1, "b": 2}}, Pointer.parse("/m/q"))
    assert str(raised.value).endswith("(found map keys: 'b', 'z')")
    with pytest.raises(MissingMapKeyError) as raised:
        find({"m": {1: "a"}}, Pointer.parse("/m/q"))
    assert str(raised.value).endswith("(found map keys: '')")


@pytest.mark.parametrize(
    ("value", "go_type"),
    [
        ("s", "string"),
        (True, "bool"),
        (1.5, "float64"),
        (2**63 - 1, "int"),
        (2**63, "uint64"),
        (2**64, "float64"),
        (None, "<nil>"),
        ([], "[]interface {}"),
    ],
)
def test_type_mismatches_name_go_types(value: Any, go_type: str) -> None:
    with pytest.raises(PatchError) as raised:
        find({"v": value}, Pointer.parse("/v/k"))
    assert str(raised.value) == f"Expected to find a map at path '/v/k' but found '{go_type}'"


# -- values are copied --------------------------------------------------------------------


def test_apply_leaves_the_given_document_alone() -> None:
    original = document()
    Ops((ReplaceOp(Pointer.parse("/nested/a/b/c"), 2), RemoveOp(Pointer.parse("/list/0")))).apply(
        original
    )
    assert original == document()


def test_a_value_inserted_twice_is_two_values() -> None:
    value = {"k": [1]}
    ops = Ops(
        (
            ReplaceOp(Pointer.parse("/a?"), value),
            ReplaceOp(Pointer.parse("/b?"), value),
            ReplaceOp(Pointer.parse("/a/k/-"), 2),
        )
    )
    result = ops.apply({})
    assert result == {"a": {"k": [1, 2]}, "b": {"k": [1]}}
    assert value == {"k": [1]}


def test_yaml_aliases_are_unshared_before_ops_apply() -> None:
    doc = go_yaml.load("a: &x {k: [1]}\nb: *x\n", source="doc.yml")
    result = Ops((ReplaceOp(Pointer.parse("/a/k/-"), 2),)).apply(doc)
    assert result == {"a": {"k": [1, 2]}, "b": {"k": [1]}}


@pytest.mark.parametrize(
    ("value", "cloned"),
    [
        (1.0, 1),
        (-0.0, 0),
        (999999.0, 999999),
        (1e6, 1e6),
        (1.5, 1.5),
        ({2.0: [3.0]}, {2: [3]}),
    ],
)
def test_replaced_values_are_cloned_through_yaml_as_the_reference_does(
    value: Any, cloned: Any
) -> None:
    # yaml.v2 writes 1.0 as `1`, which reads back as an int: a later test op sees an int.
    result = replaced("/v?", value)["v"]
    assert result == cloned
    assert repr(result) == repr(cloned)  # 1 and 1.0 are equal in Python, not in Go


# -- remove -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "where", "expected"),
    [
        ("/list/0", "/list", ["b", "c"]),
        ("/list/-1", "/list", ["a", "b"]),
        ("/list/1:next", "/list", ["a", "b"]),
        ("/groups/name=api/jobs/name=j1", "/groups/0/jobs", [{"name": "j2", "x": 1}]),
        ("/groups/name=db/size", "/groups/1", {"name": "db"}),
        ("/nested/a/b", "/nested", {"a": {}}),
    ],
)
def test_remove(path: str, where: str, expected: Any) -> None:
    assert at(removed(path), where) == expected


def test_remove_of_a_key_drops_it() -> None:
    assert "number" not in removed("/number")


@pytest.mark.parametrize(
    "path", ["/missing?", "/missing?/a/b", "/groups/name=web?", "/groups/name=web?/x"]
)
def test_remove_of_missing_optional_steps_changes_nothing(path: str) -> None:
    assert removed(path) == document()


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("", "Cannot remove entire document"),
        (
            "/missing",
            "Expected to find a map key 'missing' for path '/missing' (" + GROUPS_KEYS + ")",
        ),
        ("/list/-", "Expected to not find token 'patch.AfterLastIndexToken' at path '/list/-'"),
        (
            "/list/3",
            "Expected to find array index '3' but found array of length '3' for path '/list/3'",
        ),
        (
            "/list/0:before",
            "Expected to find one of the following modifiers: 'prev',"
            " 'next', but found modifier 'patch.BeforeModifier'",
        ),
        (
            "/groups/name=web",
            "Expected to find exactly one matching array item for"
            " path '/groups/name=web' but found 0",
        ),
        (
            "/groups/name=twice?",
            "Expected to find exactly one matching array item for"
            " path '/groups/name=twice?' but found 2",
        ),
        ("/number/x", "Expected to find a map at path '/number/x' but found 'int'"),
        ("/name/0", "Expected to find an array at path '/name/0' but found 'string'"),
    ],
)
def test_remove_errors(path: str, message: str) -> None:
    with pytest.raises(PatchError) as raised:
        removed(path)
    assert str(raised.value) == message


# -- find (bosh int --path) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "found"),
    [
        ("/name", "shop"),
        ("/list/-1", "c"),
        ("/list/0:next", "b"),
        ("/groups/name=api/jobs/name=j2/x", 1),
        ("/groups/name=api:next", {"name": "db", "size": 1}),
        ("/missing?", None),
        ("/missing?/a/b", None),
        ("/missing?/name=x", {"name": "x"}),
        ("/missing?/name=x/name", "x"),
        ("/groups/name=web?", {"name": "web"}),
        ("/groups/name=web?/jobs", None),
        ("/nothing", None),
    ],
)
def test_find(path: str, found: Any) -> None:
    assert find(document(), Pointer.parse(path)) == found


def test_find_of_the_root_is_the_document() -> None:
    doc = document()
    assert find(doc, Pointer.parse("")) is doc


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (
            "/list/-",
            "Expected not to find after last index token in path"
            " '/list/-' (not supported in find operations)",
        ),
        ("/missing?/-", "Expected to find key or matching index token at path '/missing?/-'"),
        ("/missing?/0", "Expected to find key or matching index token at path '/missing?/0'"),
        (
            "/list/0:after",
            "Expected to find one of the following modifiers: 'prev',"
            " 'next', but found modifier 'patch.AfterModifier'",
        ),
        (
            "/nested/a/q",
            "Expected to find a map key 'q' for path '/nested/a/q' (found map keys: 'b')",
        ),
        ("/nothing?/x", "Expected to find a map at path '/nothing?/x' but found '<nil>'"),
        (
            "/groups/7",
            "Expected to find array index '7' but found array of length '7' for path '/groups/7'",
        ),
    ],
)
def test_find_errors(path: str, message: str) -> None:
    with pytest.raises(PatchError) as raised:
        find(document(), Pointer.parse(path))
    assert str(raised.value) == message


# -- test ops (through ops files) --------------------------------------------------------


def op(kind: str, path: str, **fields: str) -> str:
    lines = [f"- type: {kind}", f"  path: {path}"] + [f"  {k}: {v}" for k, v in fields.items()]
    return "\n".join(lines) + "\n"


def applied(text: str, *, source: str = "ops.yml") -> Any:
    return ops_from_yaml(text, source=source).apply(document())


def failure(text: str, *, source: str = "ops.yml") -> str:
    with pytest.raises(OperationFailedError) as raised:
        applied(text, source=source)
    return str(raised.value)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("/number", "5"),
        ("/list", "[a, b, c]"),
        ("/nested", "{a: {b: {c: 1}}}"),
        ("/groups/name=db", "{size: 1, name: db}"),
    ],
)
def test_test_op_passes_when_the_value_is_there(path: str, value: str) -> None:
    assert applied(op("test", path, value=value)) == document()


@pytest.mark.parametrize("path", ["/nothing", "/missing?"])
def test_test_op_with_absent_false_and_no_value_expects_null(path: str) -> None:
    # `value: null` is no value to go-patch, so the value compared with is null.
    assert applied(op("test", path, absent="false")) == document()
    assert applied(op("test", path, value="null", absent="false")) == document()


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("/number", "5.0"),  # an int is not a float
        ("/number", '"5"'),
        ("/groups/name=db/size", "true"),
        ("/list", "[a, b]"),
        ("/nested", "{a: {b: {c: 1.0}}}"),
        ("/name", "shops"),
    ],
)
def test_test_op_fails_on_another_value(path: str, value: str) -> None:
    assert failure(op("test", path, value=value)) == (
        "Error 'operation [0] in ops.yml failed': Found value does not match expected value"
    )


@pytest.mark.parametrize("path", ["/missing", "/list/3", "/list/-4", "/nested/a/q"])
def test_test_absent_passes_when_the_last_step_is_missing(path: str) -> None:
    assert applied(op("test", path, absent="true")) == document()


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/name", "Expected to not find '/name'"),
        ("/missing?", "Expected to not find '/missing?'"),
        ("/nothing", "Expected to not find '/nothing'"),
        # Missing earlier than the last step is an error, not absence.
        (
            "/missing/x",
            "Expected to find a map key 'missing' for path '/missing' (" + GROUPS_KEYS + ")",
        ),
        (
            "/list/5/x",
            "Expected to find array index '5' but found array of length '3' for path '/list/5'",
        ),
        (
            "/groups/name=web",
            "Expected to find exactly one matching array item for"
            " path '/groups/name=web' but found 0",
        ),
    ],
)
def test_test_absent_errors(path: str, message: str) -> None:
    assert (
        failure(op("test", path, absent="true"))
        == f"Error 'operation [0] in ops.yml failed': {message}"
    )


def test_a_float_replaced_with_no_fraction_tests_as_an_int() -> None:
    assert applied(op("replace", "/v?", value="1.0") + op("test", "/v", value="1"))["v"] == 1
    assert "Found value does not match" in failure(
        op("replace", "/v?", value="1.0") + op("test", "/v", value="1.0")
    )


# -- ops files ----------------------------------------------------------------------------


def test_the_conformance_style_message_names_op_and_file() -> None:
    text = op("replace", "/groups/name=db/vm_type/size", value="1")
    assert failure(text) == (
        "Error 'operation [0] in ops.yml failed': Expected to find a map key 'vm_type' for path"
        " '/groups/name=db/vm_type' (found map keys: 'name', 'size')"
    )


def test_every_file_counts_its_ops_from_zero_and_names_itself() -> None:
    first = ops_from_yaml(op("replace", "/name", value="x"), source="first.yml")
    second = ops_from_yaml(
        op("remove", "/number") + op("remove", "/number"), source="dir/second.yml"
    )
    with pytest.raises(OperationFailedError) as raised:
        (first + second).apply(document())
    assert str(raised.value).startswith(
        "Error 'operation [1] in dir/second.yml failed': Expected to find a map key 'number'"
    )
    assert raised.value.description == "operation [1] in dir/second.yml failed"
    assert isinstance(raised.value.cause, MissingMapKeyError)
    assert len(first + second) == 3


def test_ops_apply_in_order() -> None:
    text = (
        op("replace", "/a?", value="[1]") + op("replace", "/a/-", value="2") + op("remove", "/a/0")
    )
    assert applied(text)["a"] == [2]


def test_an_error_field_of_the_file_is_replaced_by_the_cli_description() -> None:
    text = op("remove", "/missing", error="'my words'")
    assert failure(text).startswith("Error 'operation [0] in ops.yml failed': ")


@pytest.mark.parametrize("text", ["", "---\n", "null\n", "[]\n"])
def test_an_empty_ops_file_has_no_ops(text: str) -> None:
    assert len(ops_from_yaml(text, source="ops.yml")) == 0


def test_a_null_value_field_is_a_missing_value() -> None:
    with pytest.raises(OpsFileError) as raised:
        ops_from_yaml(op("replace", "/a", value="null"), source="ops.yml")
    assert str(raised.value) == (
        "Building ops: Replace operation [0]: Missing value within\n"
        "{\n"
        '  "Type": "replace",\n  "Path": "/a",\n  "Error": "operation [0] in ops.yml failed"\n'
        "}"
    )


def building(message: str, *fields: str, index: int = 0) -> str:
    """The reference's text for a bad definition, its fields shown as Go's JSON."""
    shown = [*fields, f'"Error": "operation [{index}] in ops.yml failed"']
    return f"Building ops: {message} within\n{{\n  " + ",\n  ".join(shown) + "\n}"


TYPE_REPLACE, TYPE_REMOVE, TYPE_TEST = '"Type": "replace"', '"Type": "remove"', '"Type": "test"'
PATH_A, VALUE = '"Path": "/a"', '"Value": "<redacted>"'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "- type: foo\n  path: /a\n",
            building("Unknown operation [0] with type 'foo'", '"Type": "foo"', PATH_A),
        ),
        ("- path: /a\n  value: 1\n", building("Unknown operation [0] with type ''", PATH_A, VALUE)),
        ("- null\n", building("Unknown operation [0] with type ''")),
        (
            "- type: REPLACE\n  path: /a\n  value: 1\n",
            building(
                "Unknown operation [0] with type 'REPLACE'", '"Type": "REPLACE"', PATH_A, VALUE
            ),
        ),
        (
            "- type: yes\n",  # a boolean to YAML, read as written into the string field
            building("Unknown operation [0] with type 'yes'", '"Type": "yes"'),
        ),
        ("- type: 1.50\n", building("Unknown operation [0] with type '1.50'", '"Type": "1.50"')),
        (
            "- type: replace\n  value: 1\n",
            building("Replace operation [0]: Missing path", TYPE_REPLACE, VALUE),
        ),
        (
            "- type: replace\n  path: a\n  value: 1\n",
            building(
                "Replace operation [0]: Invalid path: Expected to start with '/'",
                TYPE_REPLACE,
                '"Path": "a"',
                VALUE,
            ),
        ),
        (
            "- type: replace\n  path: 0x10\n  value: 1\n",
            building(
                "Replace operation [0]: Invalid path: Expected to start with '/'",
                TYPE_REPLACE,
                '"Path": "0x10"',
                VALUE,
            ),
        ),
        ("- type: remove\n", building("Remove operation [0]: Missing path", TYPE_REMOVE)),
        (
            "- type: remove\n  path: /a\n  value: 1\n",
            building("Remove operation [0]: Cannot specify value", TYPE_REMOVE, PATH_A, VALUE),
        ),
        (
            "- type: remove\n  path: /a:prev\n",
            building(
                "Remove operation [0]: Invalid path:"
                " Expected not to find any modifiers with key token",
                TYPE_REMOVE,
                '"Path": "/a:prev"',
            ),
        ),
        (
            "- type: test\n  path: /a\n",
            building("Test operation [0]: Missing value or absent", TYPE_TEST, PATH_A),
        ),
        (
            "- type: test\n  value: 1\n  absent: false\n",
            building("Test operation [0]: Missing path", TYPE_TEST, VALUE, '"Absent": false'),
        ),
        (
            # The CLI sets every op's `error` to its own description before checking.
            "- type: foo\n  error: mine\n",
            building("Unknown operation [0] with type 'foo'", '"Type": "foo"'),
        ),
        (
            "- type: replace\n  path: /a\n  value: 1\n- type: remove\n  path: /zz\n- type: nope\n",
            building("Unknown operation [2] with type 'nope'", '"Type": "nope"', index=2),
        ),
        (
            # Go's JSON escapes &, and the HTML escapes of < and > are turned back by go-patch.
            "- type: bad\n  path: '/a&b<c>'\n",
            building(
                "Unknown operation [0] with type 'bad'", '"Type": "bad"', '"Path": "/a\\u0026b<c>"'
            ),
        ),
        (
            '- type: bad\n  path: "/a\\"b\\\\c\\u2028\\n\\t\\b\\f\\x01\\x7f é"\n',
            building(
                "Unknown operation [0] with type 'bad'",
                '"Type": "bad"',
                '"Path": "/a\\"b\\\\c\\u2028\\n\\t\\b\\f\\u0001\x7f é"',
            ),
        ),
        (
            # ... and so is such text written literally (the reference's replacer is blind).
            "- type: bad\n  path: '\\u003c'\n",
            building("Unknown operation [0] with type 'bad'", '"Type": "bad"', '"Path": "\\<"'),
        ),
    ],
)
def test_invalid_definitions(text: str, message: str) -> None:
    with pytest.raises(OpsFileError) as raised:
        ops_from_yaml(text, source="ops.yml")
    assert str(raised.value) == message


def deserializing(*lines: str) -> str:
    return "Deserializing ops file 'ops.yml': yaml: unmarshal errors:\n  " + "\n  ".join(lines)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "type: replace\npath: /a\n",
            deserializing("line 1: cannot unmarshal !!map into []patch.OpDefinition"),
        ),
        ("foo\n", deserializing("line 1: cannot unmarshal !!str `foo` into []patch.OpDefinition")),
        ("\n\n5\n", deserializing("line 3: cannot unmarshal !!int `5` into []patch.OpDefinition")),
        ("- foo\n", deserializing("line 1: cannot unmarshal !!str `foo` into patch.OpDefinition")),
        ("- [a, b]\n", deserializing("line 1: cannot unmarshal !!seq into patch.OpDefinition")),
        (
            "- averyveryverylongstring\n",
            deserializing("line 1: cannot unmarshal !!str `averyve...` into patch.OpDefinition"),
        ),
        (
            '- type: test\n  path: /a\n  absent: "yes"\n',
            deserializing("line 3: cannot unmarshal !!str `yes` into bool"),
        ),
        (
            "- type: test\n  path: /a\n  absent: 1\n",
            deserializing("line 3: cannot unmarshal !!int `1` into bool"),
        ),
        (
            "- type: test\n  path: /a\n  absent: 1.5\n",
            deserializing("line 3: cannot unmarshal !!float `1.5` into bool"),
        ),
        (
            "- type: test\n  path: /a\n  absent: [x]\n",
            deserializing("line 3: cannot unmarshal !!seq into bool"),
        ),
        (
            "- type: test\n  path: /a\n  absent: {x: 1}\n",
            deserializing("line 3: cannot unmarshal !!map into bool"),
        ),
        (
            "- type: test\n  path: /a\n  absent: 2001-01-01\n",
            deserializing("line 3: cannot unmarshal !!timestamp `2001-01-01` into bool"),
        ),
        (
            "- type: [replace]\n  path: /a\n",
            deserializing("line 1: cannot unmarshal !!seq into string"),
        ),
        (
            "- type: replace\n  path: {a: 1}\n",
            deserializing("line 2: cannot unmarshal !!map into string"),
        ),
        (
            "- type: remove\n  path: /a\n  error: [x]\n",
            deserializing("line 3: cannot unmarshal !!seq into string"),
        ),
        (
            # Every problem, in the order of the file.
            "- {type: replace, path: /a, value: 1}\n- [x]\n- 7\n- type: [y]\n  absent: 3\n",
            deserializing(
                "line 2: cannot unmarshal !!seq into patch.OpDefinition",
                "line 3: cannot unmarshal !!int `7` into patch.OpDefinition",
                "line 4: cannot unmarshal !!seq into string",
                "line 5: cannot unmarshal !!int `3` into bool",
            ),
        ),
    ],
)
def test_ops_files_of_the_wrong_shape(text: str, message: str) -> None:
    with pytest.raises(OpsFileError) as raised:
        ops_from_yaml(text, source="ops.yml")
    assert str(raised.value) == message


def test_a_document_without_its_text_has_no_line_numbers() -> None:
    with pytest.raises(OpsFileError) as raised:
        ops_from_document([{"type": "test", "path": "/a", "absent": True}, 7], source="ops.yml")
    assert str(raised.value) == deserializing("cannot unmarshal !!int `7` into patch.OpDefinition")
    with pytest.raises(OpsFileError) as raised:
        ops_from_document([{"type": True}], source="ops.yml")
    assert "Unknown operation [0] with type 'true'" in str(raised.value)


def test_ops_from_a_document() -> None:
    ops = ops_from_document(
        [{"type": "replace", "path": "/name", "value": "x"}, {"type": "remove", "path": "/list"}],
        source="ops.yml",
    )
    result = ops.apply(document())
    assert result["name"] == "x"
    assert "list" not in result


def test_conformance_ops_files_apply(conformance_dir: Any) -> None:
    base_dir = conformance_dir / "interpolate"
    base = go_yaml.load((base_dir / "base.yml").read_text(), source="base.yml")
    seen = 0
    for case in sorted((base_dir / "cases").iterdir()):
        ops_path = case / "ops.yml"
        expected_err = (case / "expected.err").read_text()
        if not ops_path.exists() or "((" in ops_path.read_text():
            continue
        seen += 1
        ops = ops_from_yaml(ops_path.read_text(), source="ops.yml")
        if expected_err:
            with pytest.raises(PatchError) as raised:
                ops.apply(base)
            assert f"{raised.value}\nExit code 1\n" == expected_err
        else:
            assert go_yaml.dump(ops.apply(base)) == (case / "expected.out").read_text()
    assert seen >= 10


def test_errors_of_ops_and_paths_are_interpolate_errors() -> None:
    for error in (PointerError, OpsFileError, PatchError, MissingIndexError, MissingMapKeyError):
        assert issubclass(error, InterpolateError)
