"""The ``Actions`` port: how the workflow observes a service and acts on it.

Backends:
- ``ControlApiActions`` (default): the stack daemon's control API (``GET /status``,
  ``POST /services/<name>/restart|start``), so the workflow acts on whichever runtime the daemon
  owns (local processes or Docker) without holding it. Needs a running stack in ``home``.

Tests plug in their own recording backend through the same Protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from sre_space.errors import BackendRejected
from sre_space.models.plan import ActionKind, ServiceHealth

ControlCall = Callable[[str, str], Any]


@runtime_checkable
class Actions(Protocol):
    """Observe a service and perform one action on it (idempotency is the caller's business)."""

    kind: str

    def observe(self, service: str) -> ServiceHealth:
        """The service as it is now; ``known=False`` when the runtime does not know it."""
        ...

    def perform(self, action: ActionKind, target: str, params: dict[str, Any]) -> str:
        """Do the action; return a one-line detail; raise an ``SREError`` when it fails."""
        ...


class ControlApiActions:
    """``Actions`` through the stack daemon's control API of the state directory ``home``."""

    kind = "control-api"

    def __init__(self, home: Path, call: ControlCall | None = None) -> None:
        self.home = home
        self._call = call or self._control

    def _control(self, method: str, path: str) -> Any:
        from sre_space.stack.launcher import control

        return control(self.home, method, path)

    def observe(self, service: str) -> ServiceHealth:
        status = self._call("GET", "/status")
        entry = next((s for s in status.get("services", []) if s.get("service") == service), None)
        if entry is None:
            return ServiceHealth(service=service, known=False)
        return health_from_status(service, entry)

    def perform(self, action: ActionKind, target: str, params: dict[str, Any]) -> str:
        if action != ActionKind.RESTART:
            raise BackendRejected(f"the control API cannot perform {action.value!r}")
        # A service whose instances are all gone has nothing to restart: start it from its spec.
        verb = "restart" if self.observe(target).instances else "start"
        self._call("POST", f"/services/{target}/{verb}")
        return f"{verb} {target} through the control API"


def health_from_status(service: str, entry: dict[str, Any]) -> ServiceHealth:
    """One service's entry of the control API's ``/status`` as a ``ServiceHealth``."""
    instances = entry.get("instances", [])
    started = [datetime.fromisoformat(i["started_at"]) for i in instances if i.get("started_at")]
    return ServiceHealth(
        service=service,
        instances=len(instances),
        running=sum(1 for i in instances if i.get("status") == "running"),
        health=entry.get("health"),
        ready=entry.get("ready"),
        restart_count=sum(int(i.get("restart_count", 0)) for i in instances),
        last_started=max(started) if started else None,
    )
