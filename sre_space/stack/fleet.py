"""The fleet inside the stack: desired state from the GitOps repository, applied to the runtime
through the reconciler, each service waited for until its ``/ready`` answers."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from sre_space.adapters.runtime import open_runtime
from sre_space.adapters.runtime.base import InstanceStatus, Runtime, ServiceState
from sre_space.config import Settings
from sre_space.errors import PrerequisiteError
from sre_space.models.fleet import FleetSpec, ServiceSpec
from sre_space.stack.gitops_repo import FleetRepo
from sre_space.stack.reconciler import Drift, Reconciler, ReconcileReport
from sre_space.stack.wiring import Wiring

log = logging.getLogger(__name__)
OnService = Callable[[str, str, str | None, str, list[int]], None]
READY_TIMEOUT_S = 90.0


# One pooled client: a new client per probe builds an SSL context each time, which made health
# probing the daemon's main CPU cost (measured with py-spy).
_PROBE_CLIENT = httpx.Client(timeout=1.0, verify=False)


def probe(url: str, timeout: float = 1.0) -> bool:
    """True when ``url`` answers 2xx."""
    try:
        return _PROBE_CLIENT.get(url, timeout=timeout).is_success
    except httpx.HTTPError:
        return False


class FleetManager:
    """Desired state (git) → rendered specs (wiring) → runtime (reconciler)."""

    def __init__(self, settings: Settings, home: Path, environment: dict[str, str]) -> None:
        self.repo = FleetRepo(home / "gitops").ensure(settings.fleet_file)
        self._desired = self.repo.desired()
        self._head = self.repo.head()
        self.wiring = Wiring(settings, self._desired)
        self.runtime: Runtime = open_runtime(settings, home / "runtime", environment)
        self.reconciler = Reconciler(self.runtime, lambda spec: self.wiring.render(spec, self._desired))
        self._lock = threading.Lock()

    def desired(self) -> FleetSpec:
        return self._desired

    def start(self, on_ready: OnService, stopping: threading.Event) -> None:
        """Start every service in dependency order; each must be ready before its dependents."""
        for spec in self._desired.start_order():
            if stopping.is_set():
                return
            url = self.wiring.service_url(spec.name) if spec.port is not None else None
            on_ready(spec.name, "starting", url, "", [])
            state = self.runtime.apply(self.reconciler.render(spec))
            self._wait_ready(spec, stopping)
            pids = [i.pid for i in self.runtime.state(spec.name).instances if i.pid]
            detail = f"{len(state.instances)}/{spec.replicas} up, v{spec.version}"
            on_ready(spec.name, "ready", url, detail, pids)

    def _wait_ready(self, spec: ServiceSpec, stopping: threading.Event) -> None:
        if spec.port is None or spec.replicas == 0:
            return
        url = self.wiring.service_url(spec.name) + spec.ready_path
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not stopping.is_set():
            if probe(url):
                return
            state = self.runtime.state(spec.name)
            crashed = [i for i in state.instances if i.status == InstanceStatus.EXITED or i.restart_count >= 3]
            if crashed or time.monotonic() > deadline:
                tail = " | ".join(self.runtime.logs(spec.name, tail=3)) or "no output"
                why = f"exited with {crashed[0].exit_code}" if crashed else f"not ready after {READY_TIMEOUT_S:.0f}s"
                raise PrerequisiteError(f"{spec.name} {why}: {tail}"[:600])
            stopping.wait(0.2)

    def sync_if_changed(self) -> ReconcileReport | None:
        """Apply the desired state when the repository's ``main`` moved (a merged change)."""
        head = self.repo.head()
        if head == self._head:
            return None
        return self.sync()

    def sync(self) -> ReconcileReport:
        with self._lock:
            self._desired = self.repo.desired()
            self._head = self.repo.head()
            return self.reconciler.reconcile(self._desired)

    def drift(self) -> list[Drift]:
        return self.reconciler.drift(self._desired)

    def states(self) -> dict[str, ServiceState]:
        return {name: self.runtime.state(name) for name in self._desired.names()}

    def health(self, name: str) -> dict[str, bool | None]:
        spec = self._desired.service(name)
        if spec.port is None:
            return {"health": None, "ready": None}
        base = self.wiring.service_url(name)
        return {"health": probe(base + spec.health_path), "ready": probe(base + spec.ready_path)}

    def pids(self) -> list[int]:
        return [i.pid for s in self.states().values() for i in s.instances if i.pid]

    def close(self) -> None:
        """Stop the fleet: services nothing depends on first (the traffic stops before its
        targets), the rest together since each takes about a second to shut down gracefully."""
        order = list(reversed(self._desired.start_order()))
        needed = {dep for spec in order for dep in spec.depends_on}
        leaves = [s.name for s in order if s.name not in needed]
        inner = [s.name for s in order if s.name in needed]
        for batch in (leaves, inner):
            with ThreadPoolExecutor(max_workers=max(1, len(batch))) as pool:
                list(pool.map(self._stop_quietly, batch))
        self.runtime.close()

    def _stop_quietly(self, name: str) -> None:
        try:
            self.runtime.stop(name)
        except Exception:  # noqa: BLE001 - runtime.close() stops whatever remains
            log.warning("stopping %s failed; the runtime will kill it", name)
