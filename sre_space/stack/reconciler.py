"""The reconciler: compares desired state with what the runtime runs, reports drift, applies.

``plan_drift`` is a pure decision (table-tested); ``Reconciler.reconcile`` applies it through the
runtime port, in dependency order, and returns what it did.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping

from pydantic import BaseModel, ConfigDict

from sre_space.adapters.runtime.base import Runtime, ServiceState
from sre_space.models.fleet import FleetSpec, ServiceSpec


class DriftKind(enum.StrEnum):
    MISSING = "missing"  # desired, not running at all
    SPEC_CHANGED = "spec_changed"  # running from a different spec (version, limits, config, command)
    REPLICAS = "replicas"  # running, but not the desired number of instances
    UNMANAGED = "unmanaged"  # running, but no longer desired


class Drift(BaseModel):
    """One difference between desired and observed state, with a reason a person can read."""

    model_config = ConfigDict(frozen=True)

    service: str
    kind: DriftKind
    detail: str


def plan_drift(desired: FleetSpec, observed: Mapping[str, ServiceState]) -> list[Drift]:
    """Every drift between the desired fleet and the observed services, in start order."""
    drifts: list[Drift] = []
    for spec in desired.start_order():
        state = observed.get(spec.name)
        if state is None or (not state.instances and spec.replicas > 0):
            drifts.append(Drift(service=spec.name, kind=DriftKind.MISSING, detail="not running"))
            continue
        if state.spec is not None and _without_replicas(state.spec) != _without_replicas(spec):
            drifts.append(
                Drift(service=spec.name, kind=DriftKind.SPEC_CHANGED, detail=_spec_diff(state.spec, spec))
            )
        elif len(state.instances) != spec.replicas:
            drifts.append(
                Drift(
                    service=spec.name,
                    kind=DriftKind.REPLICAS,
                    detail=f"{len(state.instances)} instances, desired {spec.replicas}",
                )
            )
    desired_names = set(desired.names())
    for name in sorted(set(observed) - desired_names):
        drifts.append(Drift(service=name, kind=DriftKind.UNMANAGED, detail="running but not in desired state"))
    return drifts


def _without_replicas(spec: ServiceSpec) -> ServiceSpec:
    return spec.model_copy(update={"replicas": 0})


def _spec_diff(old: ServiceSpec, new: ServiceSpec) -> str:
    before, after = old.model_dump(), new.model_dump()
    changed = []
    for key in after:
        if key == "replicas" or before.get(key) == after[key]:
            continue
        if key == "config":
            keys = sorted(k for k in set(before[key]) | set(after[key]) if before[key].get(k) != after[key].get(k))
            changed.append(f"config[{', '.join(keys)}]")
        else:
            changed.append(f"{key} {before.get(key)!r} -> {after[key]!r}")
    return "; ".join(changed) or "spec differs"


class ReconcileReport(BaseModel):
    """What one reconcile pass found and did."""

    drift: list[Drift]
    applied: list[str]
    errors: dict[str, str]


class Reconciler:
    """Applies a desired fleet to a runtime. ``render`` adds run-time wiring (ports, links) to a spec."""

    def __init__(self, runtime: Runtime, render: Callable[[ServiceSpec], ServiceSpec] | None = None) -> None:
        self.runtime = runtime
        self.render = render or (lambda spec: spec)

    def rendered(self, desired: FleetSpec) -> FleetSpec:
        return desired.model_copy(update={"services": [self.render(s) for s in desired.services]})

    def observe(self) -> dict[str, ServiceState]:
        return {name: self.runtime.state(name) for name in self.runtime.services()}

    def drift(self, desired: FleetSpec) -> list[Drift]:
        return plan_drift(self.rendered(desired), self.observe())

    def reconcile(self, desired: FleetSpec, remove_unmanaged: bool = False) -> ReconcileReport:
        """Apply every drifted service in start order; one failing service does not stop the rest."""
        rendered = self.rendered(desired)
        drifts = plan_drift(rendered, self.observe())
        applied: list[str] = []
        errors: dict[str, str] = {}
        for drift in drifts:
            try:
                if drift.kind == DriftKind.UNMANAGED:
                    if remove_unmanaged:
                        self.runtime.stop(drift.service)
                        applied.append(drift.service)
                    continue
                self.runtime.apply(rendered.service(drift.service))
                applied.append(drift.service)
            except Exception as exc:  # noqa: BLE001 - reported per service, the pass goes on
                errors[drift.service] = str(exc) or type(exc).__name__
        return ReconcileReport(drift=drifts, applied=applied, errors=errors)
