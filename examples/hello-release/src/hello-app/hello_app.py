"""hello-app: a tiny HTTP server for the hello job (standard library only).

``GET /`` answers with the job's ``message`` property; ``GET /info`` answers with this
instance's identity and its peers' URLs as JSON. The config file is the JSON the job's
``config/hello.json`` template renders. Runs on the stemcell's python3 (3.8 or newer).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def make_handler(config: dict[str, Any]) -> type[BaseHTTPRequestHandler]:
    """A request handler class that serves `config`."""
    message = (str(config["message"]) + "\n").encode()
    info = (
        json.dumps({"instance": config.get("instance", {}), "peers": config.get("peers", [])})
        + "\n"
    ).encode()
    routes = {"/": ("text/plain; charset=utf-8", message), "/info": ("application/json", info)}

    class HelloHandler(BaseHTTPRequestHandler):
        server_version = "hello-app"

        def do_GET(self) -> None:
            route = routes.get(self.path.split("?", 1)[0])
            if route is None:
                self.send_error(404, "Only / and /info are served")
                return
            content_type, body = route
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            # One line per request on stdout, which ctl sends to the job's log directory.
            sys.stdout.write(f"{self.address_string()} {format % args}\n")
            sys.stdout.flush()

    return HelloHandler


def make_server(config: dict[str, Any], *, host: str = "0.0.0.0") -> ThreadingHTTPServer:
    """A server bound to `host` and the configured port (0 picks a free one)."""
    return ThreadingHTTPServer((host, int(config["port"])), make_handler(config))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, type=Path, help="the rendered hello.json")
    arguments = parser.parse_args(argv)
    config = json.loads(arguments.config.read_text())
    server = make_server(config)
    # monit stops the job with TERM: leave serve_forever and close the socket cleanly.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"hello-app listening on port {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
