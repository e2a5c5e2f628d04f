"""``sre-space agents``: the control plane — Scout and the incident workflow worker — in one process.

``sre-space up`` starts it as a component of the stack; it can also run on its own against a
stack started elsewhere (the same ``SRE_SPACE_HOME``), then ``--incidents-api HOST:PORT`` serves
the tracker's JSON API from this process (the stack daemon serves it otherwise). SIGTERM stops
everything cleanly.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sre_space.config import Settings
from sre_space.errors import ConfigError, PrerequisiteError
from sre_space.net import port_in_use

if TYPE_CHECKING:
    from sre_space.adapters.tracker import Tracker
    from sre_space.stack.incidents_api import IncidentsServer

log = logging.getLogger("sre_space.agents")


def ready_file(home: Path) -> Path:
    """Written once Scout and the worker run; the stack daemon waits for it."""
    return home / "agents.ready"


def cmd_agents(settings: Settings, args: argparse.Namespace) -> int:
    from agents.brain.diagnose import LiveDiagnoser, incident_history
    from agents.fixer.actions import ControlApiActions
    from agents.scout.service import Scout
    from agents.worker import Worker
    from sre_space.adapters.tracker import open_tracker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("kafka", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    home = settings.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    tracker = open_tracker(settings, home)
    parts: dict[str, Callable[[threading.Event], Any]] = {
        "scout": Scout(settings, home, tracker).run,
        "worker": Worker(settings, home, tracker, ControlApiActions(home),
                         LiveDiagnoser(settings, home, earlier=incident_history(tracker))).run,
    }
    api = _serve_incidents(tracker, args.incidents_api) if args.incidents_api else None
    threads = [threading.Thread(target=_guarded(name, run, stop), name=name) for name, run in parts.items()]
    for thread in threads:
        thread.start()
    ready_file(home).write_text("scout worker\n")
    log.info("control plane running: %s", ", ".join(parts))
    try:
        stop.wait()
    finally:
        ready_file(home).unlink(missing_ok=True)
        for thread in threads:
            thread.join(timeout=30)
        if api is not None:
            api.stop()
    return 0


def _serve_incidents(tracker: Tracker, address: str) -> IncidentsServer:
    from sre_space.stack.incidents_api import IncidentsServer

    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--incidents-api wants HOST:PORT (e.g. 0.0.0.0:8091), got {address!r}")
    if port_in_use(int(port), host):
        raise PrerequisiteError(f"port {port} (--incidents-api) is already in use on {host}")
    server = IncidentsServer(tracker, host, int(port)).start()
    log.info("incidents API on %s", server.url)
    return server


def _guarded(name: str, run: Callable[[threading.Event], Any], stop: threading.Event) -> Callable[[], None]:
    """A part that fails stops the whole control plane (the supervisor restarts it) rather than
    leaving half of it running unnoticed."""

    def target() -> None:
        try:
            run(stop)
        except Exception:
            log.exception("%s failed; stopping the control plane", name)
            stop.set()

    return target


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("agents", help="run the control plane: Scout and the incident workflow")
    p.add_argument("--incidents-api", metavar="HOST:PORT", help="also serve the tracker's JSON API here")
    p.set_defaults(fn=cmd_agents)
