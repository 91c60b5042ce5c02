"""``bosh-agent -C agent.json --base-dir``: a real agent process on the TLS bus."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from bosh_core.bus.embedded import EmbeddedNats
from tests.core.agent.conftest import director_for, settings_document


async def test_the_agent_process_reads_its_file_settings_answers_and_shuts_down(
    nats_server: EmbeddedNats, tmp_path: Path
) -> None:
    base = tmp_path / "vcap"
    (base / "bosh").mkdir(parents=True)
    cert = nats_server.add_agent("proc-agent")
    settings = settings_document(
        "proc-agent", url=nats_server.url, cert=cert, blobstore=Path("/var/vcap/micro_bosh/data")
    )
    (base / "bosh" / "settings.json").write_text(json.dumps(settings))
    (base / "bosh" / "agent.json").write_text(
        json.dumps(
            {
                "Infrastructure": {
                    "Settings": {
                        "Sources": [
                            {"Type": "File", "SettingsPath": "/var/vcap/bosh/settings.json"}
                        ]
                    }
                }
            }
        )
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bosh_core.agent.main",
        "-C",
        "/var/vcap/bosh/agent.json",
        "--base-dir",
        str(base),
        "-P",
        "ubuntu",
        stderr=asyncio.subprocess.PIPE,
    )
    director = await director_for(nats_server, "proc-agent")
    try:
        for _ in range(100):
            try:
                ping = {"method": "ping", "arguments": []}
                if await director.send(ping, timeout=0.3) == {"value": "pong"}:
                    break
            except TimeoutError:
                continue
        blob = await director.call(
            "upload_blob",
            {"blob_id": "b1", "checksum": "sha256:" + "0" * 64, "payload": "aGk="},
        )
        assert "to have digest" in blob["exception"]["message"]
        assert await director.call("shutdown") == {"value": "ok"}
        assert await asyncio.wait_for(process.wait(), 10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await director.nc.close()
        nats_server.remove_agent("proc-agent")
