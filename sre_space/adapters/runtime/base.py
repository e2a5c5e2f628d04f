"""The runtime port: what runs the fleet.

Backends:
- ``local.py``: a process supervisor (the embedded default). Memory limits are enforced by a
  cgroup v1 memory controller when one is writable (a real kernel OOM kill), else by an RSS
  watchdog; either way an over-limit process ends with exit 137 and ``oom_killed=True``.
- ``docker.py``: the Docker Engine through the Docker SDK (labelled containers, ``-m`` and
  ``--cpus`` limits, ``State.OOMKilled``).

A Kubernetes backend must fit this same Protocol (DESIGN §8.9).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from sre_space.models.fleet import ServiceSpec


class InstanceStatus(enum.StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"
    EXITED = "exited"
    STOPPED = "stopped"


class RuntimeEventKind(enum.StrEnum):
    STARTED = "started"
    EXITED = "exited"
    OOM_KILLED = "oom_killed"
    RESTARTED = "restarted"
    STOPPED = "stopped"
    SCALED = "scaled"


class RuntimeEvent(BaseModel):
    """Something that happened to an instance (what Scout and Brain read as runtime evidence)."""

    model_config = ConfigDict(frozen=True)

    time: datetime
    service: str
    instance: str
    kind: RuntimeEventKind
    exit_code: int | None = None
    detail: str = ""


class InstanceState(BaseModel):
    """Observed state of one running copy of a service."""

    model_config = ConfigDict(frozen=True)

    service: str
    instance: str
    status: InstanceStatus
    pid: int | None = None
    port: int | None = None
    exit_code: int | None = None
    oom_killed: bool = False
    restart_count: int = 0
    started_at: datetime | None = None
    memory_limit_mb: int | None = None
    rss_mb: float | None = None
    version: str | None = None
    health: str | None = None  # the engine's health check verdict where it has one (docker)


class ServiceState(BaseModel):
    """Observed state of a service: its instances and the spec it was started from."""

    model_config = ConfigDict(frozen=True)

    service: str
    spec: ServiceSpec | None = None
    instances: list[InstanceState] = Field(default_factory=list)

    @property
    def running(self) -> int:
        return sum(1 for i in self.instances if i.status == InstanceStatus.RUNNING)


@runtime_checkable
class Runtime(Protocol):
    """Runs the fleet's services. Operations are idempotent where the name allows it."""

    kind: str
    memory_enforcement: str  # how memory limits are enforced: "cgroup", "watchdog", "engine"

    def apply(self, spec: ServiceSpec) -> ServiceState:
        """Make the service match ``spec`` (start, replace on change, scale); return its state."""
        ...

    def restart(self, service: str) -> ServiceState:
        """Restart every instance of the service."""
        ...

    def stop(self, service: str) -> None:
        """Stop and remove every instance of the service (no error if none runs)."""
        ...

    def scale(self, service: str, replicas: int) -> ServiceState:
        """Run exactly ``replicas`` instances."""
        ...

    def state(self, service: str) -> ServiceState:
        """Observed state, including exit codes, OOM kills and restart counts."""
        ...

    def services(self) -> list[str]:
        """Names of services this runtime currently manages."""
        ...

    def events(self, since: datetime | None = None) -> list[RuntimeEvent]:
        """Runtime events (start, exit, OOM kill, restart) since a time, oldest first."""
        ...

    def logs(self, service: str, tail: int = 100) -> list[str]:
        """The last lines the service wrote (all instances)."""
        ...

    def close(self) -> None:
        """Stop everything this runtime started and release its resources."""
        ...
