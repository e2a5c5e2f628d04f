"""Health: HTTP ``/health`` and ``/ready`` of every service plus its runtime state (instances
exited or restarting, exit 137 / OOM-killed, restart counts rising, crash loops).

``assess`` is the pure verdict for one service; ``HealthDetector`` gathers its inputs from the
control API and the probes. A freshly started instance gets ``startup_grace_s`` before a failing
probe counts (like a startup probe), so a planned restart is not an incident; a crash is one at
once, whatever the grace.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from agents.scout.symptoms import Check, CheckStatus, Clear, Clock, Detector, Signal, Symptom
from sre_space.adapters.runtime.base import InstanceState, InstanceStatus
from sre_space.models.fleet import FleetSpec
from sre_space.models.scout import ScoutSettings

CRASH_LOOP_RESTARTS = 3
CRASH_LOOP_WINDOW_S = 300.0


class ServiceView(BaseModel):
    """What is known about one service at one moment."""

    model_config = ConfigDict(frozen=True)

    service: str
    expected: bool = True  # desired replicas > 0
    instances: list[InstanceState] = []
    health: bool | None = None  # None: not probed (no HTTP port, or no URL)
    ready: bool | None = None


@dataclass
class HealthMemory:
    """Per service, what the previous checks saw: restart counts and recent crash times."""

    restarts: dict[str, int] = field(default_factory=dict)
    crashes: deque[float] = field(default_factory=deque)


def _crashes(view: ServiceView, memory: HealthMemory, now: float) -> tuple[bool, bool, int]:
    """(an OOM kill seen now, another exit seen now, restarts since the last check)."""
    oom = exited = False
    rose = 0
    for inst in view.instances:
        before = memory.restarts.get(inst.instance)
        memory.restarts[inst.instance] = inst.restart_count
        risen = before is not None and inst.restart_count > before
        if risen:
            rose += inst.restart_count - (before or 0)
        if risen or inst.status == InstanceStatus.RESTARTING:
            oom |= inst.oom_killed
            exited |= not inst.oom_killed and inst.exit_code is not None
    for _ in range(rose):
        memory.crashes.append(now)
    while memory.crashes and memory.crashes[0] < now - CRASH_LOOP_WINDOW_S:
        memory.crashes.popleft()
    return oom, exited, rose


def _starting(view: ServiceView, now: float, grace_s: float) -> bool:
    """Every running instance started within the grace period."""
    running = [i for i in view.instances if i.status in (InstanceStatus.RUNNING, InstanceStatus.STARTING)]
    return bool(running) and all(
        i.status == InstanceStatus.STARTING or (i.started_at is not None and now - i.started_at.timestamp() < grace_s)
        for i in running
    )


def assess(
    view: ServiceView, memory: HealthMemory, now: float, grace_s: float
) -> tuple[list[Symptom], list[Clear]]:
    """The health verdict for one service: symptoms found and signals found healthy."""
    found: list[Symptom] = []
    clear: list[Signal] = []

    def fire(signal: Signal, summary: str, severity: int, value: float | None = None, **evidence: Any) -> None:
        found.append(Symptom(service=view.service, signal=signal, detector=Detector.HEALTH, at=now, value=value,
                             severity=severity, summary=summary, evidence=evidence))

    oom, exited, rose = _crashes(view, memory, now)
    states = [{"instance": i.instance, "status": i.status.value, "exit_code": i.exit_code,
               "oom_killed": i.oom_killed, "restart_count": i.restart_count} for i in view.instances]
    if oom:
        fire(Signal.OOM_KILLED, f"{view.service} was OOM-killed (exit 137) and restarted", 2, instances=states)
    if exited:
        fire(Signal.EXITED, f"{view.service} exited unexpectedly and was restarted", 2, instances=states)
    clear.extend(s for s, seen in ((Signal.OOM_KILLED, oom), (Signal.EXITED, exited)) if not seen)
    if len(memory.crashes) >= CRASH_LOOP_RESTARTS:
        fire(Signal.CRASH_LOOP, f"{view.service} restarted {len(memory.crashes)} times in "
             f"{CRASH_LOOP_WINDOW_S:.0f}s", 1, value=len(memory.crashes), instances=states)
    else:
        clear.append(Signal.CRASH_LOOP)
    if not view.expected:
        clear.extend([Signal.DOWN, Signal.NOT_READY])
    else:
        _availability(view, now, grace_s, fire, clear, states)
    clears = [Clear(service=view.service, signal=s, at=now) for s in clear]
    return found, clears


def _availability(
    view: ServiceView, now: float, grace_s: float, fire: Callable[..., None], clear: list[Signal],
    states: list[dict[str, Any]],
) -> None:
    running = [i for i in view.instances if i.status == InstanceStatus.RUNNING]
    if not view.instances:
        fire(Signal.DOWN, f"{view.service} is down: no instance is running", 2, value=0, instances=states)
        return
    if _starting(view, now, grace_s) and not (view.health and view.ready):
        return  # starting up: neither a symptom nor a recovery yet
    if not running or view.health is False:
        why = "no running instance" if not running else "/health does not answer"
        fire(Signal.DOWN, f"{view.service} is down: {why}", 2, value=len(running), health=view.health,
             instances=states)
        return
    clear.append(Signal.DOWN)
    if view.ready is False:
        fire(Signal.NOT_READY, f"{view.service} is not ready (/ready fails)", 3, instances=states)
    elif view.ready:
        clear.append(Signal.NOT_READY)


class HealthDetector:
    """Runs ``assess`` over every service of the stack."""

    detector = Detector.HEALTH

    def __init__(
        self, settings: ScoutSettings, status: Callable[[], Mapping[str, Any] | None],
        urls: Callable[[], Mapping[str, str]], probe_all: Callable[[list[str]], Mapping[str, bool]],
        fleet: Callable[[], FleetSpec | None], clock: Clock,
    ) -> None:
        self.settings, self._status, self._urls, self._probe_all = settings, status, urls, probe_all
        self._fleet, self.clock = fleet, clock
        self.memory: dict[str, HealthMemory] = {}

    def views(self, status: Mapping[str, Any]) -> list[ServiceView]:
        """One view per service of the control API's answer, with fresh probe results."""
        fleet = self._fleet()
        specs = {s.name: s for s in fleet.services} if fleet else {}
        urls = self._urls()
        targets: dict[str, tuple[str, str]] = {}
        for svc in status.get("services", []):
            name, spec = svc["service"], specs.get(svc["service"])
            if name in urls and (spec is None or spec.port is not None):
                health_path = spec.health_path if spec else "/health"
                ready_path = spec.ready_path if spec else "/ready"
                targets[name] = (urls[name] + health_path, urls[name] + ready_path)
        results = self._probe_all([u for pair in targets.values() for u in pair])
        views = []
        for svc in status.get("services", []):
            name, spec = svc["service"], specs.get(svc["service"])
            try:
                instances = [InstanceState.model_validate(i) for i in svc.get("instances", [])]
            except ValidationError:
                instances = []
            health, ready = targets.get(name, ("", ""))
            views.append(ServiceView(
                service=name, expected=spec.replicas > 0 if spec else True, instances=instances,
                health=results.get(health), ready=results.get(ready),
            ))
        return views

    def check(self) -> Check:
        now = self.clock()
        status = self._status()
        if status is None:
            return Check(detector=self.detector, at=now, status=CheckStatus.NO_DATA, detail="no stack running")
        symptoms: list[Symptom] = []
        clears: list[Clear] = []
        for view in self.views(status):
            found, healthy = assess(view, self.memory.setdefault(view.service, HealthMemory()), now,
                                    self.settings.startup_grace_s)
            symptoms += found
            clears += healthy
        return Check(detector=self.detector, at=now, symptoms=symptoms, clears=clears)
