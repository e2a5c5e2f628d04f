"""Reading containers for the docker runtime: engine ``State`` and labels -> the port's models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sre_space.adapters.runtime.base import InstanceState, InstanceStatus
from sre_space.adapters.runtime.docker_watch import LABEL_INSTANCE, LABEL_SERVICE, EngineWatch
from sre_space.models.fleet import ServiceSpec

LABEL_VERSION = "sre-space.version"
LABEL_SPEC = "sre-space.spec"
MIB = 1024 * 1024
_STATUS = {
    "created": InstanceStatus.STARTING,
    "running": InstanceStatus.RUNNING,
    "paused": InstanceStatus.RUNNING,
    "restarting": InstanceStatus.RESTARTING,
    "removing": InstanceStatus.STOPPED,
    "exited": InstanceStatus.EXITED,
    "dead": InstanceStatus.EXITED,
}


def instance_state(container: Any, watch: EngineWatch) -> InstanceState:
    """One container as an ``InstanceState``: ``State`` for what the engine knows now, the event
    stream for the last exit of a container the engine already restarted."""
    attrs = container.attrs
    st = attrs.get("State") or {}
    status = _STATUS.get(str(st.get("Status")), InstanceStatus.EXITED)
    if st.get("Restarting"):
        status = InstanceStatus.RESTARTING
    exit_code: int | None = None
    oom = False
    if status in (InstanceStatus.EXITED, InstanceStatus.RESTARTING):
        exit_code, oom = int(st.get("ExitCode", 0)), bool(st.get("OOMKilled"))
    elif (last := watch.last_exit(container.id)) is not None:
        exit_code, oom = last
    memory = int((attrs.get("HostConfig") or {}).get("Memory") or 0)
    return InstanceState(
        service=container.labels.get(LABEL_SERVICE, ""),
        instance=container.labels.get(LABEL_INSTANCE, container.name),
        status=status,
        pid=int(st.get("Pid") or 0) or None if status == InstanceStatus.RUNNING else None,
        port=_host_port(attrs),
        exit_code=exit_code,
        oom_killed=oom,
        restart_count=max(int(attrs.get("RestartCount") or 0), watch.restarts(container.id)),
        started_at=parse_time(st.get("StartedAt")),
        memory_limit_mb=memory // MIB or None,
        version=container.labels.get(LABEL_VERSION),
        health=(st.get("Health") or {}).get("Status"),
    )


def index_of(container: Any) -> int:
    """Replica index from the instance label (``quote-service-1`` -> 1)."""
    instance = str(container.labels.get(LABEL_INSTANCE, ""))
    tail = instance.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def spec_of(container: Any) -> ServiceSpec | None:
    """The spec a container was created from (its ``sre-space.spec`` label), if readable."""
    raw = container.labels.get(LABEL_SPEC)
    try:
        return ServiceSpec.model_validate_json(raw) if raw else None
    except ValueError:
        return None


def same_but_replicas(a: ServiceSpec, b: ServiceSpec) -> bool:
    """Equal specs apart from the replica count (scaling never replaces a container)."""
    return a.model_copy(update={"replicas": 0}) == b.model_copy(update={"replicas": 0})


def _host_port(attrs: dict[str, Any]) -> int | None:
    published = (attrs.get("NetworkSettings") or {}).get("Ports") or {}
    bindings = (attrs.get("HostConfig") or {}).get("PortBindings") or {}
    for source in (published, bindings):
        for binds in source.values():
            for bind in binds or []:
                if str(bind.get("HostPort") or "").isdigit() and int(bind["HostPort"]) > 0:
                    return int(bind["HostPort"])
    return None


def parse_time(value: object) -> datetime | None:
    """Docker's RFC 3339 with nanoseconds (``0001-01-01T00:00:00Z`` means never)."""
    if not isinstance(value, str) or value.startswith("0001-"):
        return None
    head, _, frac = value.rstrip("Z").partition(".")
    try:
        base = datetime.fromisoformat(head).replace(tzinfo=UTC)
    except ValueError:
        return None
    micros = int((frac[:6] or "0").ljust(6, "0")) if frac[:6].isdigit() else 0
    return base.replace(microsecond=micros)
