"""Variable sources: flags, files, the environment, and the vars store."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509

from bosh_core import go_yaml
from bosh_core.interpolate import generate
from bosh_core.interpolate.errors import InterpolateError, WrappedError, one_line
from bosh_core.interpolate.template import evaluate
from bosh_core.interpolate.variables import (
    MISSING,
    MultiVariables,
    StaticVariables,
    VariableDefinition,
    VarsStore,
    combine_variables,
    definitions_from_document,
    load_var_file,
    load_vars_file,
    parse_var_kv,
    vars_from_env,
)


def var(name: str, kind: str = "", options: Any = None) -> VariableDefinition:
    return VariableDefinition(name, kind, options)


# -- -v name=value ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("a=1", 1),
        ("a=1.5", 1.5),
        ("a=true", True),
        ("a=[1, b]", [1, "b"]),
        ("a={x: 1}", {"x": 1}),
        ("a=k: v", {"k": "v"}),
        ("a=~", None),
        ("a=#just a comment", None),
        ("a=plain text", "plain text"),
        ("a=b=c", "b=c"),
        ('a="1"', "1"),
        ("a='x y'", "x y"),
        ("a=x'quoted'", "x'quoted'"),
        ("a=line one\nline two", "line one\nline two"),
        ("a=  spaced", "  spaced"),
    ],
)
def test_a_var_value_is_read_as_yaml_but_strings_keep_their_text(text: str, value: Any) -> None:
    assert parse_var_kv(text) == ("a", value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("novalue", "Expected var 'novalue' to be in format 'name=value'"),
        ("=1", "Expected var '=1' to specify non-empty name"),
        ("a=", "Expected var 'a=' to specify non-empty value"),
    ],
)
def test_a_var_needs_a_name_and_a_value(text: str, message: str) -> None:
    with pytest.raises(InterpolateError) as caught:
        parse_var_kv(text)
    assert str(caught.value) == message


def test_a_var_that_is_not_yaml() -> None:
    with pytest.raises(WrappedError) as caught:
        parse_var_kv("a=[1")
    assert caught.value.context == "Deserializing variables 'a=[1'"
    assert one_line(caught.value).startswith("Deserializing variables 'a=[1': ")


# -- --var-file, -l, --vars-env ---------------------------------------------------------------


def test_a_var_file_is_the_value_as_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "key.pem").write_text("line 1\nline 2: not yaml\n")
    monkeypatch.chdir(tmp_path)
    assert load_var_file("key=key.pem") == ("key", "line 1\nline 2: not yaml\n")
    assert load_var_file(f"key={tmp_path}/../{tmp_path.name}/key.pem")[1].startswith("line 1")


def test_a_var_file_under_home(isolated_home: Path) -> None:
    (isolated_home / "ca.txt").write_text("x")
    assert load_var_file("ca=~/ca.txt") == ("ca", "x")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nopath", "Expected var 'nopath' to be in format 'name=path'"),
        ("=p", "Expected var '=p' to specify non-empty name"),
        ("a=", "Expected var 'a=' to specify non-empty path"),
    ],
)
def test_a_var_file_needs_a_name_and_a_path(text: str, message: str) -> None:
    with pytest.raises(InterpolateError) as caught:
        load_var_file(text)
    assert str(caught.value) == message


def test_a_var_file_that_cannot_be_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WrappedError) as caught:
        load_var_file("a=missing.txt")
    missing = tmp_path / "missing.txt"
    assert one_line(caught.value) == (
        f"Reading variable from file '{missing}': Opening file {missing}:"
        f" open {missing}: no such file or directory"
    )
    with pytest.raises(WrappedError) as caught:
        load_var_file(f"a={tmp_path}")
    assert one_line(caught.value) == (
        f"Reading variable from file '{tmp_path}': Reading file content {tmp_path}:"
        f" read {tmp_path}: is a directory"
    )


def test_a_vars_file_is_a_map(tmp_path: Path) -> None:
    path = tmp_path / "vars.yml"
    path.write_text("db_host: {primary: a}\n2: two\non: yes\nempty:\n")
    assert load_vars_file(str(path)) == {
        "db_host": {"primary": "a"},
        "2": "two",
        "true": True,
        "empty": None,
    }
    path.write_text("# nothing\n")
    assert load_vars_file(str(path)) == {}


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("- a\n", "line 1: cannot unmarshal !!seq into template.StaticVariables"),
        ("text\n", "line 1: cannot unmarshal !!str `text` into template.StaticVariables"),
    ],
)
def test_a_vars_file_that_is_not_a_map(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "vars.yml"
    path.write_text(content)
    with pytest.raises(WrappedError) as caught:
        load_vars_file(str(path))
    assert str(caught.value) == (
        f"Deserializing variables file '{path}':\n  yaml: unmarshal errors:\n  {problem}"
    )


def test_a_vars_file_that_cannot_be_read_or_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InterpolateError) as caught:
        load_vars_file("")
    assert str(caught.value) == "Expected file path to be non-empty"
    with pytest.raises(WrappedError) as caught:
        load_vars_file("nope.yml")
    assert one_line(caught.value) == (
        "Reading variables file 'nope.yml': Opening file nope.yml:"
        " open nope.yml: no such file or directory"
    )
    Path("bad.yml").write_text("a: [\n")
    with pytest.raises(WrappedError) as caught:
        load_vars_file("bad.yml")
    assert caught.value.context == "Deserializing variables file 'bad.yml'"


def test_vars_from_the_environment() -> None:
    environ = {"BOSH_a": "1", "BOSH_b": "x: [1]", "BOSHX": "no", "OTHER_a": "no", "BOSH_": "e"}
    assert vars_from_env("BOSH", environ) == {"a": 1, "b": {"x": [1]}, "": "e"}


def test_vars_from_the_environment_errors() -> None:
    with pytest.raises(InterpolateError) as caught:
        vars_from_env("", {})
    assert str(caught.value) == "Expected environment variable prefix to be non-empty"
    with pytest.raises(WrappedError) as caught:
        vars_from_env("P", {"P_x": "[1"})
    assert caught.value.context == "Deserializing YAML from environment variable 'P_x'"


# -- static values and precedence -------------------------------------------------------------


def test_static_values_and_dotted_names() -> None:
    static = StaticVariables({"a": 1, "db.host": "h", "db.port": 5, "x.y.z": None, "n": None})
    assert static.get(var("a")) == 1
    assert static.get(var("db")) == {"host": "h", "port": 5}
    assert static.get(var("x")) == {"y": {"z": None}}
    assert static.get(var("n")) is None
    assert static.get(var("db.host")) is MISSING
    assert static.get(var("nope")) is MISSING
    assert static.names() == ["a", "db", "x", "n"]


def test_a_dotted_name_adds_to_a_map_without_changing_it() -> None:
    given = {"host": "h"}
    static = StaticVariables({"db": given, "db.port": 5})
    assert static.get(var("db")) == {"host": "h", "port": 5}
    assert given == {"host": "h"}
    assert StaticVariables({"db.port": 5, "db": "whole"}).get(var("db")) == "whole"


def test_the_first_source_that_has_a_value_gives_it() -> None:
    multi = MultiVariables([StaticVariables({"a": None}), StaticVariables({"a": 1, "b": 2})])
    assert multi.get(var("a")) is None
    assert multi.get(var("b")) == 2
    assert multi.get(var("c")) is MISSING
    assert multi.names() == ["a", "a", "b"]


def test_flags_override_each_other_as_the_reference_orders_them(tmp_path: Path) -> None:
    store = VarsStore(tmp_path / "store.yml")
    (tmp_path / "store.yml").write_text("all: store\nstored: store\n")
    combined = combine_variables(
        env=[{"all": "env1", "env": "env1"}, {"all": "env2", "env": "env2"}],
        vars_files=[{"all": "file1", "file": "file1"}, {"all": "file2", "file": "file2"}],
        var_files=[("all", "varfile1"), ("varfile", "varfile1"), ("varfile", "varfile2")],
        kvs=[("kv", "kv1"), ("kv", "kv2")],
        store=store,
    )
    values = {name: combined.get(var(name)) for name in ("env", "file", "varfile", "kv", "stored")}
    assert values == {
        "env": "env2",
        "file": "file2",
        "varfile": "varfile2",
        "kv": "kv2",
        "stored": "store",
    }
    assert combined.get(var("all")) == "varfile1"
    assert combine_variables(kvs=[("all", "kv")], var_files=[("all", "f")]).get(var("all")) == "kv"
    assert combine_variables(vars_files=[{"a": 1}], env=[{"a": 2}]).get(var("a")) == 1
    assert store.ca_source is combined


# -- the vars store ---------------------------------------------------------------------------


def store_document(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def test_a_store_keeps_what_it_holds_and_generates_what_it_lacks(tmp_path: Path) -> None:
    path = tmp_path / "creds" / "store.yml"
    store = VarsStore(path)
    assert store.get(var("pw")) is MISSING
    assert not path.exists()

    password = store.get(var("pw", "password"))
    assert re.fullmatch(r"[a-z0-9]{20}", password)
    assert store_document(path) == {"pw": password}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.get(var("pw", "password")) == password
    assert VarsStore(path).get(var("pw", "password")) == password
    assert VarsStore(path).get(var("pw")) == password
    assert store.names() == ["pw"]


def test_a_store_file_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "store.yml"
    path.write_text("a: 1\n")
    path.chmod(0o640)
    VarsStore(path).get(var("pw", "password", {"length": 5}))
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["store.yml"]


def test_a_store_is_written_as_the_reference_writes_it(tmp_path: Path) -> None:
    path = tmp_path / "store.yml"
    path.write_text("zeta: {b: 2, a: 1}\nalpha10: x\nalpha2: z\n")
    store = VarsStore(path)
    store.get(var("key", "rsa"))
    text = path.read_text()
    # Names and stored maps sorted as yaml.v2 sorts them; the new value in field order.
    assert re.findall(r"^\S.*$", text, re.MULTILINE) == [
        "alpha2: z",
        "alpha10: x",
        "key:",
        "zeta:",
    ]
    assert re.findall(r"^  \S[^:]*:", text, re.MULTILINE) == [
        "  private_key:",
        "  public_key:",
        "  a:",
        "  b:",
    ]
    assert "private_key: |\n    -----BEGIN RSA PRIVATE KEY-----\n" in text

    store.get(var("pw", "password", {"length": 3}))
    text = path.read_text()
    assert re.findall(r"^\S[^:]*:", text, re.MULTILINE) == [
        "alpha2:",
        "alpha10:",
        "key:",
        "pw:",
        "zeta:",
    ]


def test_a_generated_certificate_is_written_in_the_reference_field_order(tmp_path: Path) -> None:
    path = tmp_path / "store.yml"
    store = VarsStore(path)
    store.get(var("ca", "certificate", {"is_ca": True, "key_length": 2048}))
    text = path.read_text()
    assert re.findall(r"^  \S[^:]*:", text, re.MULTILINE) == [
        "  certificate:",
        "  private_key:",
        "  ca:",
    ]
    store.get(var("pw", "password"))
    assert re.findall(r"^  \S[^:]*:", path.read_text(), re.MULTILINE) == [
        "  ca:",
        "  certificate:",
        "  private_key:",
    ]


def test_every_type_generates_and_reads_back_from_the_store_file(tmp_path: Path) -> None:
    path = tmp_path / "store.yml"
    manifest = go_yaml.load(
        """
name: app
properties:
  password: ((pw))
  url: https://admin:((pw))@((domain))/
  tls: {ca: ((leaf.ca)), cert: ((leaf.certificate)), key: ((leaf.private_key))}
  ssh: ((ssh.public_key))
  fingerprint: ((ssh.public_key_fingerprint))
  rsa: ((rsa))
variables:
- name: pw
  type: password
- name: ca
  type: certificate
  options: {is_ca: true, common_name: ((domain))-ca}
- name: leaf
  type: certificate
  options:
    ca: ca
    common_name: ((domain))
    alternative_names: [((domain)), 10.0.0.1]
- name: ssh
  type: ssh
- name: rsa
  type: rsa
- name: domain
""",
        source="manifest.yml",
    )
    first = evaluate(
        manifest, combine_variables(kvs=[("domain", "app.example")], store=VarsStore(path))
    )
    stored = store_document(path)
    assert list(stored) == ["ca", "leaf", "pw", "rsa", "ssh"]
    assert first["variables"] == []
    props = first["properties"]
    assert props["password"] == stored["pw"]
    assert props["url"] == f"https://admin:{stored['pw']}@app.example/"
    assert props["tls"] == {
        "ca": stored["ca"]["certificate"],
        "cert": stored["leaf"]["certificate"],
        "key": stored["leaf"]["private_key"],
    }
    assert props["ssh"] == stored["ssh"]["public_key"]
    assert props["fingerprint"] == stored["ssh"]["public_key_fingerprint"]
    assert props["rsa"] == stored["rsa"]

    leaf = x509.load_pem_x509_certificate(stored["leaf"]["certificate"].encode())
    ca = x509.load_pem_x509_certificate(stored["ca"]["certificate"].encode())
    leaf.verify_directly_issued_by(ca)
    assert ca.subject.rfc4514_string() == "CN=app.example-ca,O=Cloud Foundry,C=US"
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(name.value) for name in names] == ["app.example", "10.0.0.1"]

    before = path.read_bytes()
    again = evaluate(
        manifest, combine_variables(kvs=[("domain", "app.example")], store=VarsStore(path))
    )
    assert again == first
    assert path.read_bytes() == before


def test_a_certificate_is_signed_by_a_ca_given_as_a_variable(tmp_path: Path) -> None:
    ca = generate.generate_certificate(
        generate.CertificateParams(is_ca=True, common_name="given", key_length=2048),
        load_ca=lambda name: pytest.fail(f"asked for {name}"),
    )
    store = VarsStore(tmp_path / "store.yml")
    combined = combine_variables(vars_files=[{"given_ca": ca}], store=store)
    leaf = store.get(var("leaf", "certificate", {"ca": "given_ca", "key_length": 2048}))
    assert leaf["ca"] == ca["certificate"]
    assert combined.get(var("given_ca")) == ca
    x509.load_pem_x509_certificate(leaf["certificate"].encode()).verify_directly_issued_by(
        x509.load_pem_x509_certificate(ca["certificate"].encode())
    )


def test_a_ca_defined_after_its_certificate_is_not_there_yet(tmp_path: Path) -> None:
    manifest = go_yaml.load(
        "variables:\n- name: leaf\n  type: certificate\n  options: {ca: ca}\n"
        "- name: ca\n  type: certificate\n  options: {is_ca: true}\n",
        source="manifest.yml",
    )
    with pytest.raises(WrappedError) as caught:
        evaluate(manifest, combine_variables(store=VarsStore(tmp_path / "s.yml")))
    assert str(caught.value) == (
        "Getting all variables from variable definitions sections:\n"
        "  Generating variable 'leaf':\n"
        "    Loading certificates:\n"
        "      Expected to find variable 'ca' with a certificate"
    )


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        (
            "a string",
            "Expected variable 'ca' to be deserializable:\n"
            "      yaml: unmarshal errors:\n"
            "  line 1: cannot unmarshal !!str `a string` into opts.CertVal",
        ),
        (
            "{certificate: [x]}",
            "Expected variable 'ca' to be deserializable:\n"
            "      yaml: unmarshal errors:\n  line 2: cannot unmarshal !!seq into string",
        ),
        ("{private_key: x}", "Certificate did not contain PEM formatted block"),
    ],
)
def test_a_ca_variable_that_is_not_a_certificate(tmp_path: Path, stored: str, message: str) -> None:
    store = VarsStore(tmp_path / "store.yml")
    combine_variables(kvs=[parse_var_kv(f"ca={stored}")], store=store)
    with pytest.raises(WrappedError) as caught:
        store.get(var("leaf", "certificate", {"ca": "ca"}))
    assert str(caught.value) == (
        f"Generating variable 'leaf':\n  Loading certificates:\n    {message}"
    )


@pytest.mark.parametrize(
    ("kind", "stored", "problem"),
    [
        ("password", "{a: 1}", "a string, but found a map"),
        ("password", "[1]", "a string, but found a list"),
        ("password", "true", "a string, but found a boolean"),
        (
            "certificate",
            "just text",
            "a map with keys 'ca', 'certificate', 'private_key', but found a string",
        ),
        (
            "certificate",
            "{ca: a, certificate: b}",
            "a map with keys 'ca', 'certificate', 'private_key', but 'private_key' is missing"
            " or null",
        ),
        (
            "ssh",
            "{private_key: a, public_key: b, public_key_fingerprint: 1}",
            "a map with keys 'private_key', 'public_key', 'public_key_fingerprint',"
            " but 'public_key_fingerprint' is a number",
        ),
        ("rsa", "7", "a map with keys 'private_key', 'public_key', but found a number"),
    ],
)
def test_a_stored_value_of_the_wrong_shape_is_refused(
    tmp_path: Path, kind: str, stored: str, problem: str
) -> None:
    path = tmp_path / "store.yml"
    path.write_text(f"x: {stored}\n")
    store = VarsStore(path)
    with pytest.raises(InterpolateError) as caught:
        store.get(var("x", kind))
    assert str(caught.value) == (
        f"Expected variable 'x' of type '{kind}' in vars store '{path}' to be {problem}"
    )
    assert store.get(var("x")) is not MISSING  # without a type, any value will do
    assert path.read_text() == f"x: {stored}\n"


@pytest.mark.parametrize(
    "stored",
    [
        "12345",
        "{ca: a, certificate: b, private_key: c, extra: d}",
    ],
)
def test_stored_values_of_the_right_shape_are_kept(tmp_path: Path, stored: str) -> None:
    path = tmp_path / "store.yml"
    path.write_text(f"x: {stored}\n")
    kind = "password" if stored == "12345" else "certificate"
    assert VarsStore(path).get(var("x", kind)) == go_yaml.load(stored, source="s")


@pytest.mark.parametrize(
    ("kind", "options", "message"),
    [
        ("foo", None, "Unsupported value type: foo"),
        (
            "password",
            {"length": 5, "size": 1},
            "Failed to generate password, parameters are invalid:\n"
            "    Unsupported parameter 'size'",
        ),
        (
            "password",
            {"length": "twenty-characters"},
            "Failed to generate password, parameters are invalid:\n"
            "    Expected input to be deserializable:\n"
            "      yaml: unmarshal errors:\n"
            "  line 1: cannot unmarshal !!str `twenty-...` into int",
        ),
        (
            "password",
            ["length"],
            "Failed to generate password, parameters are invalid:\n"
            "    Expected input to be deserializable:\n"
            "      yaml: unmarshal errors:\n"
            "  line 1: cannot unmarshal !!seq into map[string]interface {}",
        ),
        (
            "certificate",
            {"is_ca": "yes", "duration": True, "alternative_names": "a", "organizations": []},
            "Failed to generate certificate, parameters are invalid:\n"
            "    Unsupported parameter 'organizations'",
        ),
        (
            "certificate",
            {"is_ca": "yes", "duration": True, "alternative_names": "a"},
            "Failed to generate certificate, parameters are invalid:\n"
            "    Expected input to be deserializable:\n"
            "      yaml: unmarshal errors:\n"
            "  line 1: cannot unmarshal !!str `a` into []string\n"
            "  line 2: cannot unmarshal !!bool `true` into int64\n"
            "  line 3: cannot unmarshal !!str `yes` into bool",
        ),
        (
            "certificate",
            {"common_name": "x"},
            "Missing required CA name",
        ),
    ],
)
def test_definitions_the_store_cannot_generate(
    tmp_path: Path, kind: str, options: Any, message: str
) -> None:
    path = tmp_path / "store.yml"
    with pytest.raises(WrappedError) as caught:
        VarsStore(path).get(var("x", kind, options))
    assert str(caught.value) == f"Generating variable 'x':\n  {message}"
    assert not path.exists()


def test_password_options_from_the_manifest(tmp_path: Path) -> None:
    store = VarsStore(tmp_path / "store.yml")
    assert len(store.get(var("a", "password", {"length": 8}))) == 8
    assert len(store.get(var("b", "password", {"length": 8.9}))) == 8  # Go truncates
    assert len(store.get(var("c", "password", None))) == 20
    assert len(store.get(var("d", "password", {"length": None}))) == 20


def test_a_store_file_that_cannot_be_read(tmp_path: Path) -> None:
    path = tmp_path / "store.yml"
    path.write_text("- a\n")
    with pytest.raises(WrappedError) as caught:
        VarsStore(path).get(var("x"))
    assert str(caught.value) == (
        f"Deserializing variables file store '{path}':\n"
        "  yaml: unmarshal errors:\n  line 1: cannot unmarshal !!seq into template.StaticVariables"
    )
    path.write_text("a: [\n")
    with pytest.raises(WrappedError) as caught:
        VarsStore(path).names()
    assert caught.value.context == f"Deserializing variables file store '{path}'"


def test_a_store_that_cannot_be_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "store.yml"

    def refused(*_: Any, **__: Any) -> int:
        raise PermissionError(13, "Permission denied", str(tmp_path / "temporary"))

    monkeypatch.setattr(os, "open", refused)  # how the staged file beside the store is made
    with pytest.raises(WrappedError) as caught:
        VarsStore(path).get(var("x", "password"))
    assert str(caught.value) == (
        f"Generating variable 'x':\n  Writing variables to file store '{path}':\n"
        f"    open {path}: permission denied"
    )
    assert not path.exists()


def test_a_store_under_a_file_cannot_be_read(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    path = tmp_path / "file" / "store.yml"
    with pytest.raises(WrappedError) as caught:
        VarsStore(path).get(var("x", "password"))
    assert str(caught.value) == (f"Opening file {path}:\n  open {path}: not a directory")


def test_a_store_path_is_absolute_and_expands_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_home: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    assert VarsStore("sub/../store.yml").path == tmp_path / "store.yml"
    assert VarsStore("~/store.yml").path == isolated_home / "store.yml"
    with pytest.raises(InterpolateError) as caught:
        VarsStore("")
    assert str(caught.value) == "Expected file path to be non-empty"


# -- definitions of a manifest ----------------------------------------------------------------


def test_definitions_are_read_from_a_manifest() -> None:
    document = go_yaml.load(
        "variables:\n- name: a\n  type: password\n  options: {length: 3}\n  update_mode: x\n"
        "- name: b\n- {}\n",
        source="m",
    )
    assert definitions_from_document(document) == [
        var("a", "password", {"length": 3}),
        var("b"),
        var(""),
    ]
    assert definitions_from_document({"variables": None}) == []
    assert definitions_from_document(["variables"]) == []
