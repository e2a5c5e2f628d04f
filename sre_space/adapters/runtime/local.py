"""The local runtime: each instance is a supervised subprocess on this machine (the embedded default).

- Own session and process group per instance; stdout and stderr go to
  ``<state_dir>/logs/<service>-<index>.log`` (emptied when this runtime first starts that
  instance, appended across restarts).
- Environment: the caller's ``env`` + the spec's config knobs + ``PORT`` (replica 0 gets
  ``spec.port``, other replicas and port 0 a free port) + ``SERVICE_NAME``, ``SERVICE_VERSION``,
  ``SERVICE_INSTANCE``. A leading ``python`` in the command is this interpreter.
- Memory: a cgroup v1 memory group per instance when one is writable (``memory_enforcement ==
  "cgroup"``: the kernel OOM-kills at the limit), else an RSS watchdog (``"watchdog"``). Either
  way the instance ends with exit 137 and ``oom_killed=True``. CPU: a cgroup cpu quota when
  writable (``cpu_enforcement == "cgroup"``), else not enforced (``"none"``).
- Crashed instances restart with exponential backoff; ``restart`` replaces them at once.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from sre_space.adapters.runtime.base import RuntimeEvent, RuntimeEventKind, ServiceState
from sre_space.adapters.runtime.cgroups import CgroupRoots, InstanceCgroup, detect, remove_root
from sre_space.adapters.runtime.events import EventLog
from sre_space.adapters.runtime.health import wait_ready
from sre_space.adapters.runtime.logtail import tail_lines
from sre_space.adapters.runtime.supervisor import Backoff, Launch, Supervised
from sre_space.adapters.runtime.watchdog import RssWatchdog
from sre_space.errors import BackendRejected, PrerequisiteError
from sre_space.models.fleet import ServiceSpec
from sre_space.net import free_port, port_in_use

MemoryEnforcement = Literal["auto", "cgroup", "watchdog"]


@dataclass
class _Service:
    spec: ServiceSpec
    instances: list[Supervised] = field(default_factory=list)


class LocalRuntime:
    """Process supervisor implementing the ``Runtime`` port; thread-safe."""

    kind = "local"

    def __init__(
        self,
        state_dir: Path,
        env: Mapping[str, str] | None = None,
        *,
        cwd: Path | None = None,
        memory_enforcement: MemoryEnforcement = "auto",
        stop_timeout: float = 5.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        watchdog_interval: float = 0.05,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.log_dir = self.state_dir / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._env = dict(env or {})
        self._cwd = cwd
        self._stop_timeout = stop_timeout
        self._backoff = (backoff_initial, backoff_max)
        self._events = EventLog()
        self._services: dict[str, _Service] = {}
        self._lock = threading.Lock()  # guards _services (short holds; readers never wait on a stop)
        self._ops = threading.RLock()  # serialises mutations (apply, scale, restart, stop, close)
        self._truncated: set[str] = set()
        self._roots = CgroupRoots(None, None)
        if memory_enforcement != "watchdog":
            self._roots = detect(f"{os.getpid()}-{secrets.token_hex(3)}")
        if memory_enforcement == "cgroup" and self._roots.memory is None:
            remove_root(self._roots)
            raise PrerequisiteError(
                "local runtime: no writable cgroup v1 memory controller (needs root on a cgroup v1 host); "
                "use memory_enforcement='watchdog'"
            )
        self.memory_enforcement = "cgroup" if self._roots.memory is not None else "watchdog"
        self.cpu_enforcement = "cgroup" if self._roots.memory is not None and self._roots.cpu else "none"
        self._watchdog: RssWatchdog | None = None
        if self.memory_enforcement == "watchdog":
            self._watchdog = RssWatchdog(self._running_instances, watchdog_interval)
            self._watchdog.start()

    def check(self) -> str:
        """One line saying how limits are enforced (for ``sre-space status`` / prerequisites)."""
        return f"local runtime: memory by {self.memory_enforcement}, cpu by {self.cpu_enforcement}"

    # -- the Runtime port -----------------------------------------------------------------------
    def apply(self, spec: ServiceSpec) -> ServiceState:
        """Start the service, scale it, or replace its instances one by one when the spec changed."""
        with self._ops:
            svc = self._services.get(spec.name)
            if svc is None:
                self._argv(spec)
                svc = _Service(spec)
                with self._lock:
                    self._services[spec.name] = svc
                try:
                    self._grow(svc, spec.replicas)
                except BaseException:
                    if not svc.instances:
                        with self._lock:
                            del self._services[spec.name]
                    raise
            elif svc.spec.model_copy(update={"replicas": spec.replicas}) == spec:
                self._scale(svc, spec.replicas)
            else:
                self._replace(svc, spec)
            return self.state(spec.name)

    def restart(self, service: str) -> ServiceState:
        """Restart every instance now, one after the other (restart_count rises by one each)."""
        with self._ops:
            for inst in list(self._known(service).instances):
                inst.restart()
            return self.state(service)

    def stop(self, service: str) -> None:
        with self._ops:
            with self._lock:
                svc = self._services.pop(service, None)
            for inst in svc.instances if svc else []:
                inst.stop()

    def scale(self, service: str, replicas: int) -> ServiceState:
        if replicas < 0:
            raise BackendRejected(f"{service}: replicas must be >= 0, got {replicas}")
        with self._ops:
            self._scale(self._known(service), replicas)
            return self.state(service)

    def state(self, service: str) -> ServiceState:
        with self._lock:
            svc = self._services.get(service)
            instances = list(svc.instances) if svc else []
        if svc is None:
            return ServiceState(service=service)
        return ServiceState(service=service, spec=svc.spec, instances=[i.snapshot() for i in instances])

    def services(self) -> list[str]:
        with self._lock:
            return sorted(self._services)

    def events(self, since: datetime | None = None) -> list[RuntimeEvent]:
        return self._events.since(since)

    def logs(self, service: str, tail: int = 100) -> list[str]:
        """Last ``tail`` lines of each instance's log (prefixed ``[instance]`` when several)."""
        pattern = re.compile(rf"^{re.escape(service)}-(\d+)\.log$")
        paths = sorted(
            (p for p in self.log_dir.iterdir() if pattern.match(p.name)),
            key=lambda p: int(pattern.match(p.name).group(1)),  # type: ignore[union-attr]
        )
        if len(paths) == 1:
            return tail_lines(paths[0], tail)
        return [f"[{p.stem}] {line}" for p in paths for line in tail_lines(p, tail)]

    def wait_ready(self, service: str, timeout: float = 30.0) -> ServiceState:
        """Poll every instance's health path until all answer 2xx (``BackendUnavailable`` if not)."""
        return wait_ready(self, service, timeout)

    def close(self) -> None:
        """Stop every service, the watchdog, and remove this runtime's cgroups."""
        with self._ops:
            for name in self.services():
                self.stop(name)
            if self._watchdog is not None:
                self._watchdog.stop()
            remove_root(self._roots)

    # -- internals ----------------------------------------------------------------------------
    def _known(self, service: str) -> _Service:
        with self._lock:
            svc = self._services.get(service)
        if svc is None:
            raise BackendRejected(f"{service}: not managed by the local runtime (apply it first)")
        return svc

    def _running_instances(self) -> Iterator[Supervised]:
        with self._lock:
            services = list(self._services.values())
        for svc in services:
            yield from list(svc.instances)

    def _argv(self, spec: ServiceSpec) -> list[str]:
        if not spec.command:
            raise BackendRejected(f"{spec.name}: no command to run (the local runtime needs `command:`)")
        argv = [sys.executable if spec.command[0] == "python" else spec.command[0], *spec.command[1:]]
        if shutil.which(argv[0], path=self._env.get("PATH")) is None and not os.access(argv[0], os.X_OK):
            raise BackendRejected(f"{spec.name}: command not found: {spec.command[0]}")
        return argv

    def _port(self, spec: ServiceSpec, index: int) -> int | None:
        if spec.port is None:
            return None
        if index == 0 and spec.port != 0:
            if port_in_use(spec.port):
                raise BackendRejected(f"{spec.name}: port {spec.port} is already in use")
            return spec.port
        return free_port()

    def _launch(self, spec: ServiceSpec, index: int) -> Supervised:
        name = f"{spec.name}-{index}"
        port = self._port(spec, index)
        env = {**self._env, **spec.env(), "SERVICE_NAME": spec.name, "SERVICE_VERSION": spec.version}
        env["SERVICE_INSTANCE"] = name
        if port is not None:
            env["PORT"] = str(port)
        log_path = self.log_dir / f"{name}.log"
        if name not in self._truncated:
            log_path.write_bytes(b"")
            self._truncated.add(name)
        cgroup = None
        if self._roots.memory is not None:
            cgroup = InstanceCgroup(self._roots, name, spec.memory_mb, spec.cpus)
        launch = Launch(self._argv(spec), env, log_path, self._cwd, port, self._stop_timeout)
        inst = Supervised(spec, index, launch, self._events, Backoff(*self._backoff), cgroup)
        try:
            inst.start()
        except OSError as exc:
            if cgroup is not None:
                cgroup.remove()
            raise BackendRejected(f"{spec.name}: cannot start {spec.command[0]!r}: {exc.strerror or exc}") from exc
        return inst

    def _grow(self, svc: _Service, replicas: int) -> None:
        for index in range(len(svc.instances), replicas):
            inst = self._launch(svc.spec, index)
            with self._lock:
                svc.instances.append(inst)

    def _scale(self, svc: _Service, replicas: int) -> None:
        before = len(svc.instances)
        svc.spec = svc.spec.model_copy(update={"replicas": replicas})
        self._grow(svc, replicas)
        while len(svc.instances) > replicas:
            with self._lock:
                inst = svc.instances.pop()
            inst.stop()
        if before != replicas:
            self._events.add(svc.spec.name, svc.spec.name, RuntimeEventKind.SCALED, detail=f"{before} -> {replicas}")

    def _replace(self, svc: _Service, spec: ServiceSpec) -> None:
        """Rolling replacement: stop old instance i, start new instance i (it may reuse the port)."""
        self._argv(spec)
        old = list(svc.instances)
        svc.spec = spec
        for index in range(max(len(old), spec.replicas)):
            if index < len(old):
                old[index].stop()
                with self._lock:
                    svc.instances.remove(old[index])
            if index < spec.replicas:
                inst = self._launch(spec, index)
                with self._lock:
                    svc.instances.insert(index, inst)
