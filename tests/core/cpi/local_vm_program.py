"""The program the local CPI tests run in a VM instead of the agent.

It finds its settings as the agent does (``/var/vcap/bosh/agent.json``: a File or a
Registry source), keeps a child process (so the VM is a process tree), and serves HTTP
on ``argv[1]`` (``0.0.0.0``, or ``own`` for its first network's address), port
``argv[2]``: ``GET /`` describes the VM as seen from inside; ``GET``/``PUT``
``/disk/<cid>/<name>`` read and write a file on an attached persistent disk.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import socketserver
import subprocess
import sys
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DISKS = Path("/var/vcap/bosh/disks")


def settings() -> Any:
    config = json.loads(Path("/var/vcap/bosh/agent.json").read_text())
    source = config["Infrastructure"]["Settings"]["Sources"][0]
    if source["Type"] == "File":
        return json.loads(Path(source["SettingsPath"]).read_text())
    parts = urllib.parse.urlsplit(source["URI"])
    url = (
        f"{parts.scheme}://{parts.hostname}:{parts.port}/instances/{source['InstanceID']}/settings"
    )
    request = urllib.request.Request(url)
    token = base64.b64encode(f"{parts.username}:{parts.password}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(json.loads(response.read())["settings"])


class Handler(BaseHTTPRequestHandler):
    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/":
            current = settings()
            mounts = Path("/proc/self/mountinfo").read_text()
            described = {
                "agent_id": current["agent_id"],
                "persistent": current["disks"]["persistent"],
                "hostname": socket.gethostname(),
                "pid": os.getpid(),
                "stemcell_version": Path("/var/vcap/bosh/etc/stemcell_version").read_text(),
                "disk_mounts": [line.split()[4] for line in mounts.splitlines()
                                if line.split()[4].startswith(str(DISKS))],
            }  # fmt: skip
            self._reply(200, json.dumps(described).encode())
            return
        try:
            self._reply(200, (DISKS / self.path.removeprefix("/disk/")).read_bytes())
        except OSError as exc:
            self._reply(404, str(exc).encode())

    def do_PUT(self) -> None:
        data = self.rfile.read(int(self.headers["Content-Length"]))
        (DISKS / self.path.removeprefix("/disk/")).write_bytes(data)
        self._reply(204, b"")

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Server(ThreadingHTTPServer):
    def server_bind(self) -> None:
        # HTTPServer would look up its own name (DNS, which a VM may not reach).
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "vm", self.server_address[1]


def main() -> None:
    bind, port = sys.argv[1], int(sys.argv[2])
    if bind == "own":
        bind = next(iter(settings()["networks"].values()))["ip"]
    subprocess.Popen(["sleep", "3600"])
    Server((bind, port), Handler).serve_forever()


if __name__ == "__main__":
    main()
