"""((variables)) evaluated as the reference's director/template evaluates them."""

from __future__ import annotations

import copy
from typing import Any

import attrs
import pytest

from bosh_core import go_yaml
from bosh_core.interpolate.errors import (
    InterpolateError,
    PatchError,
    UnresolvedVariablesError,
    WrappedError,
)
from bosh_core.interpolate.template import evaluate, variable_names
from bosh_core.interpolate.variables import (
    MISSING,
    StaticVariables,
    VariableDefinition,
)


def doc(text: str) -> Any:
    return go_yaml.load(text, source="manifest.yml")


def run(text: str, values: dict[str, Any] | None = None, **options: bool) -> str:
    """The document evaluated with static values, written as `bosh int` writes it."""
    return go_yaml.dump(evaluate(doc(text), StaticVariables(values or {}), **options))


def failure(text: str, values: dict[str, Any] | None = None, **options: bool) -> str:
    with pytest.raises(InterpolateError) as caught:
        evaluate(doc(text), StaticVariables(values or {}), **options)
    return str(caught.value)


@attrs.define
class Recording:
    """A source that answers from `values`, remembering every definition it was asked."""

    values: dict[str, Any] = attrs.field(factory=dict)
    error: InterpolateError | None = None
    asked: list[VariableDefinition] = attrs.field(factory=list)

    def get(self, definition: VariableDefinition) -> Any:
        self.asked.append(definition)
        if self.error is not None:
            raise self.error
        return self.values.get(definition.name, MISSING)

    def names(self) -> list[str]:
        return list(self.values)

    @property
    def asked_names(self) -> list[str]:
        return [definition.name for definition in self.asked]


# -- whole values and values inside strings ------------------------------------------------


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("foo", " foo"),
        (1, " 1"),
        (True, " true"),
        ("", ' ""'),
        (None, " null"),
        ("nil", " nil"),
        (2.5, " 2.5"),
        ({"b": [1, 2], "a": "x"}, "\n  a: x\n  b:\n  - 1\n  - 2"),
        (["x", {"y": 1}], '\n- x\n- "y": 1'),
        ("this\nhas\nlines", " |-\n  this\n  has\n  lines"),
    ],
)
def test_a_whole_string_takes_the_value_with_its_type(value: Any, written: str) -> None:
    assert run("key: ((name))", {"name": value}) == f"key:{written}\n"


@pytest.mark.parametrize("text", ["((name))", "(( name))", "((name ))", "(( name ))", "((!name))"])
def test_whole_string_forms(text: str) -> None:
    assert run(f"key: '{text}'", {"name": 7}) == "key: 7\n"


def test_a_document_that_is_only_a_variable() -> None:
    assert run("((name))", {"name": "foo"}) == "foo\n"
    assert run("1234", {"name": "foo"}) == "1234\n"
    assert run("(()", {}) == "(()\n"


def test_strings_and_integers_are_written_into_longer_strings() -> None:
    assert run(
        "a: ((host)):((port))\nb: ((user)):((user))\nc: x-((!user))-((user))-y",
        {"host": "10.0.0.1", "port": 4222, "user": "nats"},
    ) == ("a: 10.0.0.1:4222\nb: nats:nats\nc: x-nats-nats-y\n")


def test_spaced_forms_inside_a_longer_string_are_looked_up_but_left_as_written() -> None:
    # The reference finds `(( name ))` but replaces only the exact `((name))` spelling.
    source = Recording({"name": "v"})
    result = evaluate(doc("a: x-(( name ))-((name))"), source, expect_all_vars_used=True)
    assert result == {"a": "x-(( name ))-v"}
    assert source.asked_names == ["name", "name"]


@pytest.mark.parametrize(
    ("value", "go_type", "shown"),
    [
        (2.717, "float64", "2.717"),
        (1e21, "float64", "1e+21"),
        (True, "bool", "true"),
        (None, "<nil>", "<nil>"),
        # Maps and lists are not shown (the reference prints them): a certificate or a
        # key is a map, and its private key must not reach an error message.
        ([1, "a", None, False], "[]interface {}", "<not shown>"),
        (
            {"certificate": "c", "private_key": "SECRET"},
            "map[interface {}]interface {}",
            "<not shown>",
        ),
    ],
)
def test_other_types_cannot_go_inside_a_string(value: Any, go_type: str, shown: str) -> None:
    assert failure("address: ((host)):((port))", {"host": "h", "port": value}) == (
        f"Invalid type '{go_type}' for value '{shown}' and variable 'port'."
        " Supported types for interpolation within a string are integers and strings."
    )


def test_a_string_is_rechecked_as_it_is_replaced() -> None:
    # Once `((a))` becomes "", what is left is `((b))` alone: b keeps its type.
    assert run("k: ((a))((b))", {"a": "", "b": [1]}) == "k:\n- 1\n"


def test_a_replaced_value_is_not_searched_for_more_variables_of_its_own() -> None:
    assert run("k: ((a))", {"a": "((b))", "b": "no"}) == "k: ((b))\n"


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("((a)) ((!b)) (( c )) ((d ))", ["a", "b", "c", "d"]),
        (
            "((/director/dep/name)) ((with-dash_and.dot))",
            ["/director/dep/name", "with-dash_and.dot"],
        ),
        ("((Ω)) ((naïve)) ((日本))", ["Ω", "naïve", "日本"]),
        # Go's \w is ASCII and \pL takes letters only: other digits and symbols are not names.
        ("((a٣)) ((x²)) ((a b)) ((  a)) (() ((a)", []),
        ("(((a)))", ["a"]),
    ],
)
def test_variable_names(text: str, names: list[str]) -> None:
    assert variable_names(text) == names


def test_unicode_names_and_values() -> None:
    assert run("((Ω))", {"Ω": "☃"}) == "☃\n"


# -- keys ----------------------------------------------------------------------------------


def test_keys_are_interpolated_whole_and_in_part() -> None:
    assert run(
        "((key)): ((value))\n((iaas))_cpi: props\n((nothing)): v",
        {"key": "foo", "value": "bar", "iaas": "aws", "nothing": None},
    ) == ("null: v\naws_cpi: props\nfoo: bar\n")


def test_a_key_that_becomes_a_map_is_refused() -> None:
    message = failure("((key)): v", {"key": {"a": 1}})
    assert message == (
        "Expected map key '((key))' to be interpolated into a string, number or boolean,"
        " but found 'map[interface {}]interface {}'"
    )


# -- parts of values ------------------------------------------------------------------------


def test_a_part_of_a_map_or_list_value() -> None:
    values = {
        "db": {"primary": {"host": "a"}, "ports": [5432, 5433]},
        "hosts": ["x", "y"],
        "by_index": {"0": "zero", "1": "one"},
    }
    assert run(
        "a: ((db.primary.host))\nb: ((db.ports.1))\nc: ((hosts.0))\nd: ((by_index.1))\n"
        "e: ((db.ports))\nf: pre-((db.primary.host))-((hosts.1))",
        values,
    ) == ("a: a\nb: 5433\nc: x\nd: one\ne:\n- 5432\n- 5433\nf: pre-a-y\n")


def test_a_missing_part_says_which_keys_there_are() -> None:
    assert failure("k: ((db.nope))", {"db": {"primary": 1, "replica": 2}}) == (
        "Finding variable 'db.nope':\n"
        "  Expected to find a map key 'nope' for path '/nope'"
        " (found map keys: 'primary', 'replica')"
    )


def test_a_part_of_a_string_value() -> None:
    assert failure("k: x-((pw.key))", {"pw": "secret"}) == (
        "Finding variable 'pw.key':\n  Expected to find a map at path '/key' but found 'string'"
    )


def test_an_index_that_fails_is_tried_as_a_map_key_and_its_error_shown() -> None:
    assert failure("k: ((list.5))", {"list": ["a"]}) == (
        "Finding variable 'list.5':\n"
        "  Expected to find a map at path '/5' but found '[]interface {}'"
    )


def test_a_missing_variable_with_a_part_is_missing_by_its_name() -> None:
    assert failure("k: ((db.host))", expect_all_keys=True) == (
        "- Expected to find variables:\n    - db"
    )
    assert run("k: ((db.host))") == "k: ((db.host))\n"


# -- missing and unused ----------------------------------------------------------------


def test_missing_variables_stay_as_written() -> None:
    assert run("((key)): ((key2))\n((key3)): 2", {"key3": "foo"}) == ("((key)): ((key2))\nfoo: 2\n")


def test_var_errs_lists_every_missing_name_sorted() -> None:
    text = "((key)): ((key2))\n((key3)): 2\ndup: ((key3))\n((key4))_array:\n- ((key_in_array))\n"
    with pytest.raises(UnresolvedVariablesError) as caught:
        evaluate(doc(text), StaticVariables({"key3": "foo"}), expect_all_keys=True)
    assert caught.value.missing == ("key", "key2", "key4", "key_in_array")
    assert str(caught.value) == (
        "- Expected to find variables:\n    - key\n    - key2\n    - key4\n    - key_in_array"
    )


def test_var_errs_unused_lists_every_unused_name() -> None:
    values = {"key1": "1", "key2": "2", "key3": "3"}
    assert failure("((key2))", values, expect_all_vars_used=True) == (
        "- Expected to use variables:\n    - key1\n    - key3"
    )
    assert run("((key2))", values) == '"2"\n'


def test_missing_and_unused_together() -> None:
    message = failure(
        "((key2))", {"key1": "1", "key3": "3"}, expect_all_keys=True, expect_all_vars_used=True
    )
    assert message == (
        "- Expected to find variables:\n    - key2\n"
        "- Expected to use variables:\n    - key1\n    - key3"
    )


def test_a_variable_used_for_a_part_is_used() -> None:
    assert run("((db.host))", {"db": {"host": "h"}}, expect_all_vars_used=True) == "h\n"


def test_errors_of_a_source_are_wrapped_with_the_variable() -> None:
    source = Recording(error=InterpolateError("fake-err"))
    with pytest.raises(WrappedError) as caught:
        evaluate(doc("k: ((key))"), source)
    assert str(caught.value) == "Finding variable 'key':\n  fake-err"


# -- definitions ------------------------------------------------------------------------


def test_definitions_are_asked_for_in_order_then_the_document_then_all_of_them() -> None:
    source = Recording({"key": "v", "key1": "1", "missing-type": "m", "key2": "2"})
    evaluate(
        doc(
            "abc: ((key))\nvariables:\n- name: key1\n  type: t\n- name: missing-type\n"
            "- name: key2\n  type: t\n"
        ),
        source,
    )
    assert source.asked_names == ["key1", "key2", "key", "key1", "missing-type", "key2"]


def test_a_source_is_given_each_definition() -> None:
    source = Recording({"key1": "key1-val", "key2": "key2-val"})
    result = evaluate(
        doc(
            "abc: ((!key1))\nvariables:\n- name: key2\n  type: key2-type\n"
            "  options: {opt: val}\n- name: key1\n  type: key1-type\nxyz: [((!key2))]\n"
        ),
        source,
    )
    assert result == {"abc": "key1-val", "variables": [], "xyz": ["key2-val"]}
    assert source.asked[:2] == [
        VariableDefinition("key2", "key2-type", {"opt": "val"}),
        VariableDefinition("key1", "key1-type"),
    ]


def test_found_definitions_leave_variables_and_missing_ones_stay() -> None:
    text = "variables:\n- name: found\n- name: not-found\n  type: password\n- name: other\n"
    assert run(text, {"found": None, "other": 1}) == (
        "variables:\n- name: not-found\n  type: password\n"
    )


def test_definition_options_use_variables() -> None:
    source = Recording({"domain": "example.com", "cert": {"private_key": "k"}, "sub": {"a": 1}})
    result = evaluate(
        doc(
            "key: ((cert.private_key))\nvariables:\n- name: cert\n  type: certificate\n"
            "  options: {common_name: ((domain)), num: ((sub.a)), alt: [x.((domain))]}\n"
        ),
        source,
    )
    assert result == {"key": "k", "variables": []}
    assert next(d for d in source.asked if d.name == "cert") == VariableDefinition(
        "cert",
        "certificate",
        {"common_name": "example.com", "num": 1, "alt": ["x.example.com"]},
    )


def test_a_definition_whose_options_miss_a_variable_is_not_asked_for() -> None:
    source = Recording()
    text = (
        "other: ((other))\nkey2: ((key2))\nvariables:\n"
        "- name: key2\n  type: t\n  options:\n    var: ((key1))\n"
    )
    with pytest.raises(UnresolvedVariablesError) as caught:
        evaluate(doc(text), source, expect_all_keys=True)
    # key1 is missing because the document's own `variables:` section names it.
    assert caught.value.missing == ("key1", "other")
    assert "key2" not in source.asked_names


def test_a_variable_used_in_definition_options_is_used() -> None:
    source = Recording({"domain": "d", "cert": "c"})
    text = "variables:\n- name: cert\n  type: t\n  options: {cn: ((domain))}\n"
    # Through the document's own `variables:` section, which is evaluated like the rest.
    assert evaluate(doc(text), source, expect_all_vars_used=True) == {"variables": []}


def test_recursive_definitions_are_refused() -> None:
    text = (
        "variables:\n- name: key1\n  type: t\n  options: {var: ((key2))}\n"
        "- name: key2\n  type: t\n  options: {var: ((key1))}\n"
    )
    assert failure(text, expect_all_keys=True) == (
        "Getting all variables from variable definitions sections:\n"
        "  Interpolating variable 'key1' definition options:\n"
        "    Finding variable 'key2':\n"
        "      Interpolating variable 'key2' definition options:\n"
        "        Finding variable 'key1':\n"
        "          Detected recursion"
    )


def test_a_variable_used_twice_in_options_is_not_recursion() -> None:
    text = (
        "top: ((top))\ntop2: ((top))\nvariables:\n"
        "- name: key1\n  type: t\n  options: {a: ((level)), b: ((level))}\n"
        "- name: key2\n  type: t\n  options: {var: ((key1))}\n"
    )
    assert evaluate(doc(text), StaticVariables({})) == doc(text)


def test_errors_from_definitions_name_the_section() -> None:
    source = Recording(error=InterpolateError("fake-err"))
    with pytest.raises(WrappedError) as caught:
        evaluate(doc("abc: ((key1))\nvariables:\n- name: key2\n  type: t\n"), source)
    assert str(caught.value) == (
        "Getting all variables from variable definitions sections:\n  fake-err"
    )
    assert source.asked_names == ["key2"]


def test_a_definition_named_twice_cannot_be_removed() -> None:
    text = "variables:\n- name: x\n- name: x\n"
    with pytest.raises(PatchError) as caught:
        evaluate(doc(text), StaticVariables({"x": 1}))
    assert str(caught.value) == (
        "Expected to find exactly one matching array item for path '/variables/name=x' but found 2"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "variables: foo",
            "line 1: cannot unmarshal !!str `foo` into []template.VariableDefinition",
        ),
        (
            "name: x\nvariables: {a: 1}",
            "line 3: cannot unmarshal !!map into []template.VariableDefinition",
        ),
        (
            "variables:\n- name: ok\n- just-a-very-long-string\n- name: [a]\n  type: {b: 1}\n",
            "line 3: cannot unmarshal !!str `just-a-...` into template.VariableDefinition\n"
            "  line 5: cannot unmarshal !!seq into string\n"
            "  line 7: cannot unmarshal !!map into string",
        ),
    ],
)
def test_definitions_that_are_not_a_list_of_maps(text: str, message: str) -> None:
    assert failure(text) == f"yaml: unmarshal errors:\n  {message}"


def test_definitions_of_other_documents_are_ignored() -> None:
    assert run("- ((a))\n- variables: [{name: a}]", {"a": 1}) == (
        "- 1\n- variables:\n  - name: a\n"
    )


def test_scalars_decode_into_definition_names() -> None:
    source = Recording({"123": "v"})
    with pytest.raises(PatchError) as caught:
        evaluate(doc("variables:\n- name: 123\n  type: t\n- ~\n"), source)
    assert source.asked[:3] == [
        VariableDefinition("123", "t"),
        VariableDefinition("123", "t"),
        VariableDefinition(""),
    ]
    # Found as "123", the definition is then looked for as a string: the item holds a number.
    assert str(caught.value) == (
        "Expected to find exactly one matching array item for path '/variables/name=123'"
        " but found 0"
    )


# -- the input is left alone -----------------------------------------------------------------


def test_the_input_document_is_not_changed_and_values_are_not_shared() -> None:
    document = doc("a: ((m))\nb: ((m))\nc: [((m))]\nvariables: [{name: m}]")
    before = copy.deepcopy(document)
    result = evaluate(document, StaticVariables({"m": {"k": [1]}}))
    assert document == before
    assert result == {"a": {"k": [1]}, "b": {"k": [1]}, "c": [{"k": [1]}], "variables": []}
    assert result["a"] is not result["b"]
    assert "&" not in go_yaml.dump(result)
