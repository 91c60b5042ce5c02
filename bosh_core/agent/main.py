"""``bosh-agent``: the console script run on every VM (``bosh-agent -C agent.json``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from bosh_core.agent.actions import Actions, blobstore_from_settings
from bosh_core.agent.errors import AgentError
from bosh_core.agent.runtime import DEFAULT_HEARTBEAT_INTERVAL, AgentRuntime
from bosh_core.agent.settings import load_agent_config, load_settings, vm_path
from bosh_core.errors import BoshError

__all__ = ["main"]

_SETTINGS_ATTEMPTS = 30


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bosh-agent", description=__doc__)
    parser.add_argument("-C", dest="config", default="/var/vcap/bosh/agent.json")
    parser.add_argument("-P", dest="platform", default="linux", help="accepted, ignored")
    parser.add_argument("--base-dir", type=Path, default=Path("/var/vcap"))
    parser.add_argument(
        "--heartbeat-interval", type=float, default=DEFAULT_HEARTBEAT_INTERVAL, metavar="SECONDS"
    )
    return parser.parse_args(argv)


async def _run(args: argparse.Namespace) -> None:
    from bosh_core.agent.supervisor import JobSupervisor

    base_dir: Path = args.base_dir
    config = load_agent_config(vm_path(base_dir, args.config))
    # The registry may not have the settings yet when the VM boots: keep asking.
    for attempt in range(_SETTINGS_ATTEMPTS):
        try:
            settings = await asyncio.to_thread(load_settings, config, base_dir=base_dir)
            break
        except AgentError:
            if attempt == _SETTINGS_ATTEMPTS - 1:
                raise
            await asyncio.sleep(1)
    supervisor = JobSupervisor(
        base_dir,
        log_dir=base_dir / "sys" / "log",
        on_alert=lambda alert: runtime.forward_alert(alert),
    )
    actions = Actions(
        settings,
        base_dir=base_dir,
        blobstore=blobstore_from_settings(settings.active_blobstore, base_dir=base_dir),
        supervisor=supervisor,
        on_shutdown=lambda: runtime.stop(),
    )
    runtime = AgentRuntime(
        settings, actions=actions, base_dir=base_dir, heartbeat_interval=args.heartbeat_interval
    )
    await actions.restore()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, runtime.stop)
    try:
        await runtime.run()
    finally:
        await supervisor.close()


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        asyncio.run(_run(args))
    except BoshError as exc:
        print(f"bosh-agent: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
