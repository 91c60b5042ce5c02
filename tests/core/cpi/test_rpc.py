"""The external CPI protocol both ways: serve (our CPI as an executable), ExternalCPI."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bosh_core.cpi import (
    VMCID,
    CloudError,
    CPIContext,
    CPIError,
    CPIResponseError,
    CPITimeoutError,
    DiskNotFoundError,
    NotImplementedError_,
    NotSupportedError,
    StemcellCID,
    VMCreationFailedError,
    VMNotFoundError,
)
from bosh_core.cpi.rpc import (
    DIRECTOR_PATH,
    ExternalCPI,
    handle_request,
    load_properties,
    redact_request,
    serve,
)
from tests.conftest import REPO_ROOT
from tests.core.cpi.conftest import write_executable
from tests.core.cpi.memory_cpi import MemoryCPI


class PropertiesCPI(MemoryCPI):
    """Answers info with what it was built from, to see properties and context arrive."""

    def info(self) -> Any:
        return {"properties": dict(self.properties), "context": repr(self.context)}

    def has_vm(self, vm_cid: VMCID) -> bool:
        if vm_cid == "explode":
            raise ZeroDivisionError("division by zero in the cloud")
        print("stray output that must not reach the response")
        return super().has_vm(vm_cid)


def call(method: str, *arguments: Any, properties: Any = None, **request: Any) -> Any:
    body = {"method": method, "arguments": list(arguments), "context": {}, **request}
    return handle_request(PropertiesCPI, json.dumps(body), properties=properties or {})


# --- serve ---------------------------------------------------------------------------


def test_serve_answers_one_request_with_result_error_and_log() -> None:
    stdout = io.BytesIO()
    request = {"method": "create_stemcell", "arguments": ["/nonexistent", {}], "context": {}}
    serve(
        MemoryCPI,
        argv=[],
        environ={},
        stdin=io.BytesIO(json.dumps(request).encode()),
        stdout=stdout,
    )
    response = json.loads(stdout.getvalue())
    assert response["result"] is None
    assert response["error"] == {
        "type": "Bosh::Clouds::CloudError",
        "message": "Stemcell image '/nonexistent' does not exist",
        "ok_to_retry": False,
    }
    assert isinstance(response["log"], str)


def test_python_logging_goes_into_the_log(tmp_path: Path) -> None:
    image = tmp_path / "image"
    image.write_text("x")
    stdout = io.BytesIO()
    request = {"method": "create_stemcell", "arguments": [str(image), {}], "context": {}}
    serve(
        MemoryCPI,
        argv=[],
        environ={},
        stdin=io.BytesIO(json.dumps(request).encode()),
        stdout=stdout,
    )
    response = json.loads(stdout.getvalue())
    assert response["error"] is None
    assert response["result"].startswith("sc-")
    assert f"created stemcell {response['result']}" in response["log"]


def test_properties_come_from_the_config_file_and_the_context(tmp_path: Path) -> None:
    config = tmp_path / "cpi.yml"
    config.write_text("cloud:\n  plugin: memory\n  properties:\n    region: a\n    keep: 1\n")
    properties = load_properties(["-configFile", str(config)], {})
    assert properties == {"region": "a", "keep": 1}
    response = call(
        "info",
        properties=properties,
        context={
            "director_uuid": "d-1",
            "request_id": "cpi-123456",
            "vm": {"stemcell": {"api_version": 3}},
            "region": "b",
        },
        api_version=2,
    )
    assert response["result"]["properties"] == {"region": "b", "keep": 1}
    assert response["result"]["context"] == repr(
        CPIContext(
            director_uuid="d-1", request_id="cpi-123456", api_version=2, stemcell_api_version=3
        )
    )


def test_the_config_file_may_be_named_in_the_environment_or_as_the_only_argument(
    tmp_path: Path,
) -> None:
    config = tmp_path / "cpi.json"
    config.write_text('{"a": 1}')
    assert load_properties([], {"BOSH_CPI_CONFIG": str(config)}) == {"a": 1}
    assert load_properties([str(config)], {}) == {"a": 1}
    assert load_properties([f"--config-file={config}"], {}) == {"a": 1}
    assert load_properties([], {}) == {}
    with pytest.raises(CPIError, match="Cannot read the CPI config file"):
        load_properties([str(tmp_path / "missing")], {})


def test_bad_requests_get_invalid_call_or_not_implemented() -> None:
    assert handle_request(MemoryCPI, b"{not json", properties={})["error"]["type"] == "InvalidCall"
    assert handle_request(MemoryCPI, b"[]", properties={})["error"]["type"] == "InvalidCall"
    unknown = call("configure_networks", "vm")["error"]
    assert unknown["type"] == "Bosh::Clouds::NotImplemented"
    assert unknown["message"] == "Method is not known, got 'configure_networks'"
    wrong = call("has_vm", "a", "b")["error"]
    assert wrong["type"] == "InvalidCall"
    assert wrong["message"].startswith("Arguments are not correct")
    assert call("has_vm", arguments_are="missing")["error"]["type"] == "InvalidCall"


def test_cpi_errors_keep_their_wire_type_and_ok_to_retry() -> None:
    assert call("reboot_vm", "vm-x")["error"] == {
        "type": "Bosh::Clouds::VMNotFound",
        "message": "VM 'vm-x' not found",
        "ok_to_retry": False,
    }
    stemcell = "sc-1"
    failed = call("create_vm", "agent", stemcell, {}, {}, [], {})["error"]
    assert failed["type"] == "Bosh::Clouds::VMCreationFailed"
    unsupported = call("snapshot_disk", "disk", {})["error"]
    assert unsupported["type"] == "Bosh::Clouds::NotSupported"


def test_unexpected_exceptions_become_cloud_errors_with_the_traceback_logged() -> None:
    stdout = io.BytesIO()
    request = {"method": "has_vm", "arguments": ["explode"], "context": {}}
    serve(
        PropertiesCPI,
        argv=[],
        environ={},
        stdin=io.BytesIO(json.dumps(request).encode()),
        stdout=stdout,
    )
    response = json.loads(stdout.getvalue())
    assert response["error"] == {
        "type": "Bosh::Clouds::CloudError",
        "message": "division by zero in the cloud",
        "ok_to_retry": False,
    }
    assert "Traceback" in response["log"]
    assert "ZeroDivisionError" in response["log"]


def test_v1_callers_get_a_bare_vm_id_and_no_disk_hint(tmp_path: Path) -> None:
    config = tmp_path / "cpi.json"
    config.write_text(json.dumps({"state_file": str(tmp_path / "cloud.json")}))
    properties = load_properties([str(config)], {})
    image = tmp_path / "image"
    image.write_text("x")

    def v1(method: str, *arguments: Any) -> Any:
        request = {"method": method, "arguments": list(arguments), "context": {}}
        response = handle_request(MemoryCPI, json.dumps(request), properties=properties)
        assert response["error"] is None
        return response["result"]

    stemcell = v1("create_stemcell", str(image), {})
    vm_cid = v1("create_vm", "agent", stemcell, {}, {"n": {"type": "dynamic"}}, [], {})
    assert isinstance(vm_cid, str)
    disk = v1("create_disk", 10, {}, vm_cid)
    assert v1("attach_disk", vm_cid, disk) is None
    assert v1("get_disks", vm_cid) == [disk]


def test_a_served_cpi_keeps_stray_prints_out_of_the_response(tmp_path: Path) -> None:
    script = tmp_path / "serve.py"
    script.write_text(
        "from bosh_core.cpi.rpc import serve\n"
        "from tests.core.cpi.test_rpc import PropertiesCPI\n"
        "serve(PropertiesCPI)\n"
    )
    request = {"method": "has_vm", "arguments": ["vm-1"], "context": {}, "api_version": 2}
    result = subprocess.run(
        [sys.executable, str(script)],
        input=json.dumps(request).encode(),
        capture_output=True,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        check=True,
    )
    assert json.loads(result.stdout)["result"] is False
    assert b"stray output" in result.stderr


# --- ExternalCPI ---------------------------------------------------------------------


def test_external_cpi_maps_errors_back_to_classes(memory_cpi_executable: Path) -> None:
    cpi = ExternalCPI(memory_cpi_executable, timeout=30)
    with pytest.raises(VMNotFoundError) as raised:
        cpi.reboot_vm(VMCID("vm-x"))
    assert "CPI error 'Bosh::Clouds::VMNotFound' with message 'VM 'vm-x' not found'" in str(
        raised.value
    )
    assert "in 'reboot_vm' CPI method (CPI request ID: 'cpi-" in str(raised.value)
    with pytest.raises(DiskNotFoundError):
        cpi.set_disk_metadata(cpi.create_disk(1, {}, None)[:-1], {})
    with pytest.raises(NotSupportedError) as unsupported:
        cpi.snapshot_disk(cpi.create_disk(1, {}, None), {})
    assert unsupported.value.method == "snapshot_disk"
    with pytest.raises(VMCreationFailedError) as retry:
        cpi.create_vm("agent", StemcellCID("sc"), {"fail": "retry"}, {}, [], {})
    assert retry.value.ok_to_retry is False  # an unknown stemcell is checked first
    image = memory_cpi_executable.parent / "image"
    image.write_text("x")
    stemcell = cpi.create_stemcell(str(image), {})
    with pytest.raises(VMCreationFailedError) as retry:
        cpi.create_vm("agent", stemcell, {"fail": "retry"}, {}, [], {})
    assert retry.value.ok_to_retry is True


def test_external_cpi_passes_properties_and_collects_the_log(tmp_path: Path) -> None:
    logs: list[str] = []
    executable = write_executable(
        tmp_path / "cpi",
        f"#!/bin/sh\ncd {REPO_ROOT}\nexec {sys.executable} -c "
        "'from bosh_core.cpi.rpc import serve; from tests.core.cpi.test_rpc import PropertiesCPI;"
        ' import logging; logging.getLogger("x").warning("hello from the cpi");'
        " serve(PropertiesCPI)'\n",
    )
    cpi = ExternalCPI(
        executable,
        properties={"secret": "s3cr3t"},
        context=CPIContext(director_uuid="d-1", stemcell_api_version=2),
        cpi_log=logs.append,
        timeout=30,
    )
    info: Any = cpi._call("info")
    assert info["properties"] == {"secret": "s3cr3t"}
    assert "director_uuid='d-1'" in info["context"]
    assert "stemcell_api_version=2" in info["context"]
    assert any("hello from the cpi" in text for text in logs)  # stderr is kept too


def test_external_cpi_runs_with_the_directors_minimal_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEAKY_SECRET", "x")
    executable = write_executable(
        tmp_path / "cpi",
        f"#!{sys.executable}\nimport json, os, sys\nsys.stdin.read()\n"
        'print(json.dumps({"result": dict(os.environ), "error": None, "log": ""}))\n',
    )
    environment = ExternalCPI(executable, env={"EXTRA": "1"})._call("info")
    assert environment["PATH"] == DIRECTOR_PATH
    assert environment["EXTRA"] == "1"
    assert "TMPDIR" in environment
    assert "LEAKY_SECRET" not in environment
    assert "HOME" not in environment


@pytest.mark.parametrize(
    ("stdout", "message"),
    [
        ("not json", "not JSON"),
        ('{"result": 1}', "missing error, log"),
        ('{"result": 1, "error": "bad", "log": ""}', "'error' must be null"),
        ('{"result": 1, "error": null, "log": ""}', "unexpected result 1"),
        ("", "stdout was 'nothing'"),
    ],
)
def test_malformed_responses_say_what_is_wrong(tmp_path: Path, stdout: str, message: str) -> None:
    executable = write_executable(
        tmp_path / "cpi", f"#!/bin/sh\ncat >/dev/null\necho 'oops' >&2\nprintf '%s' '{stdout}'\n"
    )
    with pytest.raises(CPIResponseError) as raised:
        ExternalCPI(executable).has_vm(VMCID("vm"))
    assert message in str(raised.value)
    assert "Invalid CPI response from" in str(raised.value)
    if "JSON" in message or "missing" in message:
        assert "stderr ends with: oops" in str(raised.value)


def test_unknown_and_legacy_error_types(tmp_path: Path) -> None:
    def answering(error: dict[str, Any]) -> ExternalCPI:
        response = json.dumps({"result": None, "error": error, "log": ""})
        path = tmp_path / f"cpi-{error['type'].replace(':', '')}"
        script = f"#!/bin/sh\ncat >/dev/null\ncat <<'EOF'\n{response}\nEOF\n"
        return ExternalCPI(write_executable(path, script))

    with pytest.raises(CPIError, match=r"^Unknown CPI error 'Weird' with message 'm'") as raised:
        answering({"type": "Weird", "message": "m", "ok_to_retry": False}).has_vm(VMCID("v"))
    assert type(raised.value) is CPIError
    legacy = {
        "type": "InvalidCall",
        "message": "Method is not known, got 'x'",
        "ok_to_retry": False,
    }
    with pytest.raises(NotImplementedError_):
        answering(legacy).has_vm(VMCID("v"))
    invalid = {
        "type": "Bosh::Clouds::CloudError",
        "message": "Invalid Method: x",
        "ok_to_retry": False,
    }
    with pytest.raises(NotImplementedError_):
        answering(invalid).has_vm(VMCID("v"))
    with pytest.raises(CloudError):
        answering({**invalid, "message": "boom"}).has_vm(VMCID("v"))


def test_a_slow_cpi_is_killed_at_the_timeout_with_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    executable = write_executable(
        tmp_path / "cpi", f"#!/bin/sh\nsleep 60 &\necho $! > {pid_file}\nsleep 60\n"
    )
    started = time.monotonic()
    with pytest.raises(CPITimeoutError, match=r"did not answer 'has_vm' within 0.5 s") as raised:
        ExternalCPI(executable, timeout=0.5).has_vm(VMCID("vm"))
    assert isinstance(raised.value, TimeoutError)
    assert time.monotonic() - started < 10
    status = Path(f"/proc/{pid_file.read_text().strip()}/status")
    for _ in range(50):
        if not status.exists() or "State:\tZ" in status.read_text():
            break
        time.sleep(0.1)
    else:
        pytest.fail("the CPI's child process outlived the timeout")


def test_a_missing_or_non_executable_cpi_is_named(tmp_path: Path) -> None:
    plain = tmp_path / "cpi"
    plain.write_text("#!/bin/sh\n")
    for path in (plain, tmp_path / "absent"):
        with pytest.raises(
            CPIResponseError, match=f"Failed to run cpi: '{path}' is not executable"
        ):
            ExternalCPI(path).info()


def test_requests_are_redacted_for_logs() -> None:
    request = {
        "method": "create_vm",
        "arguments": [
            "agent",
            "sc",
            {"key": "v"},
            {"n": {"ip": "10.0.0.2", "cloud_properties": {"subnet": "s"}}},
            [],
            {"bosh": {"group": "g", "password": "p", "mbus": {"cert": {}}}, "other": 1},
        ],
        "context": {"director_uuid": "d", "access_key": "AKIA"},
    }
    shown = redact_request(request, secret_context_keys=["access_key"])
    assert shown["context"] == {"director_uuid": "d", "access_key": "<redacted>"}
    assert shown["arguments"][2] == {"key": "<redacted>"}
    assert shown["arguments"][3] == {
        "n": {"ip": "10.0.0.2", "cloud_properties": {"subnet": "<redacted>"}}
    }
    assert shown["arguments"][5] == {
        "bosh": {"group": "g", "password": "<redacted>", "mbus": "<redacted>"},
        "other": "<redacted>",
    }
    assert request["arguments"][2] == {"key": "v"}  # the request itself is untouched
