"""The stack daemon: starts the embedded stack in order, keeps it running, stops it cleanly.

``sre-space up`` spawns it (``python -m sre_space.stack.daemon``) in its own session and follows
its progress through ``<home>/stack.json``. Order: ports checked → broker → trace store →
GitOps repository → fleet (dependency order, each waited for until ready) → control API →
incidents API → control plane (when enabled).
SIGTERM stops everything in reverse order and leaves no process behind.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from sre_space.config import Settings, load_settings, process_environment
from sre_space.errors import PrerequisiteError, SREError
from sre_space.stack.agents_process import AgentsProcess
from sre_space.stack.broker import EmbeddedBroker
from sre_space.stack.control import ControlServer
from sre_space.stack.fleet import FleetManager
from sre_space.stack.incidents_api import IncidentsServer
from sre_space.stack.state import Phase, StackState, write_state
from sre_space.stack.wiring import HOST, Wiring

if TYPE_CHECKING:
    from sre_space.stack.tracestore import TraceStoreProcess

log = logging.getLogger("sre_space.daemon")


class StackDaemon:
    """Owns every process of the embedded stack for as long as it lives."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.home.resolve()
        self.stopping = threading.Event()
        self.state = StackState(daemon_pid=os.getpid())
        self.broker: EmbeddedBroker | None = None
        self.tracestore: TraceStoreProcess | None = None
        self.fleet: FleetManager | None = None
        self.control: ControlServer | None = None
        self.incidents: IncidentsServer | None = None
        self.agents: AgentsProcess | None = None
        self._t0 = time.monotonic()

    # -- progress -------------------------------------------------------------------------
    def _mark(self, name: str, status: str, url: str | None = None, detail: str = "", pid: int | None = None) -> None:
        comp = self.state.component(name)
        comp.status, comp.detail = status, detail
        comp.url = url or comp.url
        comp.pid = pid or comp.pid
        if status in {"ready", "external"}:
            comp.seconds = round(time.monotonic() - self._t0, 2)
        if pid and pid not in self.state.pids:
            self.state.pids.append(pid)
        write_state(self.home, self.state)

    # -- lifecycle ------------------------------------------------------------------------
    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())
        code = 0
        try:
            self.start()
            self.state.phase = Phase.READY
            write_state(self.home, self.state)
            log.info("stack ready in %.1fs", time.monotonic() - self._t0)
            while not self.stopping.wait(2.0):
                self._tick()
        except SREError as exc:
            self._fail(str(exc))
            code = exc.exit_code
        except Exception as exc:  # noqa: BLE001 - the daemon reports every failure in stack.json
            log.exception("stack failed")
            self._fail(f"{type(exc).__name__}: {exc}")
            code = 1
        finally:
            self.stop()
        return code

    def _fail(self, message: str) -> None:
        log.error("%s", message)
        self.state.phase, self.state.error = Phase.FAILED, message
        write_state(self.home, self.state)

    def start(self) -> None:
        settings = self.settings
        self.fleet = FleetManager(settings, self.home, process_environment())
        wiring: Wiring = self.fleet.wiring
        wiring.check_ports_free()
        parts = ["broker", "traces", *self.fleet.desired().names(), "control", "incidents"]
        for name in parts + (["agents"] if settings.agents else []):
            self.state.component(name)
        write_state(self.home, self.state)
        (self.home / "logs").mkdir(parents=True, exist_ok=True)
        self._start_broker(wiring)
        self._start_traces(wiring)
        self._check_stopping()
        self.fleet.start(on_ready=self._on_service, stopping=self.stopping)
        self.control = ControlServer(self, HOST, wiring.ports["control"]).start()
        self.state.control_url = wiring.control_url
        self._mark("control", "ready", wiring.control_url)
        self._start_incidents(wiring)
        if settings.agents:
            self._mark("agents", "starting")
            env = {**process_environment(), "SRE_SPACE_HOME": str(self.home)}
            self.agents = AgentsProcess(self.home, env).start()
            self._mark("agents", "ready", detail="Scout + workflow worker", pid=self.agents.pid)

    def _check_stopping(self) -> None:
        if self.stopping.is_set():
            raise SREError("start-up interrupted")

    def _start_broker(self, wiring: Wiring) -> None:
        if not self.settings.embedded_broker:
            self._mark("broker", "external", f"kafka://{wiring.kafka_bootstrap}")
            return
        self._mark("broker", "starting")
        self.broker = EmbeddedBroker(wiring.ports["broker"], HOST, self.home / "logs" / "broker.log").start()
        assert self.broker.process is not None
        self._mark("broker", "ready", f"kafka://{wiring.kafka_bootstrap}", pid=self.broker.process.pid)

    def _start_traces(self, wiring: Wiring) -> None:
        if not self.settings.embedded_traces:
            self._mark("traces", "external", wiring.trace_query_url or wiring.otlp_endpoint)
            return
        from sre_space.stack.tracestore import TraceStoreProcess

        self._mark("traces", "starting")
        store = TraceStoreProcess(
            db=self.home / "traces.db",
            otlp_port=wiring.ports["otlp"],
            query_port=wiring.ports["trace_query"],
            log_path=self.home / "logs" / "tracestore.log",
        )
        self.tracestore = store
        store.start()
        self._mark(
            "traces", "ready", wiring.trace_query_url, detail=f"OTLP {wiring.otlp_endpoint}", pid=store.pid
        )

    def _start_incidents(self, wiring: Wiring) -> None:
        from sre_space.adapters.tracker import open_tracker, tracker_kind

        self._mark("incidents", "starting")
        tracker = open_tracker(self.settings, self.home)
        self.incidents = IncidentsServer(tracker, HOST, wiring.ports["incidents"]).start()
        self._mark("incidents", "ready", wiring.incidents_url, detail=f"{tracker_kind(self.settings)} tracker")

    def _on_service(self, name: str, status: str, url: str | None, detail: str, pids: list[int]) -> None:
        for pid in pids:
            if pid not in self.state.pids:
                self.state.pids.append(pid)
        self._mark(name, status, url, detail)

    def _tick(self) -> None:
        """Periodic work: apply a changed desired state, refresh the recorded PIDs."""
        if self.fleet is None:
            return
        try:
            if self.agents and self.agents.keep_alive():
                self._mark("agents", "ready", detail=f"restarted {self.agents.restarts}x", pid=self.agents.pid)
            self.fleet.sync_if_changed()
            self.state.pids = sorted(set(self.state.pids) | set(self.fleet.pids()))
            write_state(self.home, self.state)
        except SREError as exc:
            log.warning("sync failed: %s", exc)

    def stop(self) -> None:
        """Stop in reverse order; every step runs even if an earlier one failed."""
        self.state.phase = Phase.STOPPING if self.state.phase != Phase.FAILED else self.state.phase
        write_state(self.home, self.state)
        steps: list[Callable[[], None]] = [p.stop for p in (self.agents, self.incidents, self.control) if p is not None]
        steps += [self.fleet.close] if self.fleet is not None else []
        steps += [p.stop for p in (self.tracestore, self.broker) if p is not None]
        for step in steps:
            try:
                step()
            except Exception:  # noqa: BLE001 - keep stopping the rest
                log.exception("stop step failed")
        if self.state.phase != Phase.FAILED:
            self.state.phase = Phase.STOPPED
        for comp in self.state.components:
            comp.status = "stopped" if comp.status != "failed" else comp.status
        write_state(self.home, self.state)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # readiness probes would flood the log
    try:
        settings = load_settings()
    except SREError as exc:
        print(f"sre-space daemon: {exc}", file=sys.stderr)
        return exc.exit_code
    home = settings.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    pidfile = home / "daemon.pid"
    pidfile.write_text(str(os.getpid()))
    try:
        return StackDaemon(settings).run()
    except PrerequisiteError as exc:
        print(f"sre-space daemon: {exc}", file=sys.stderr)
        return exc.exit_code
    finally:
        pidfile.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
