"""The reconciler: drift decisions (table) and applying them through a runtime."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from sre_space.adapters.runtime.base import InstanceState, InstanceStatus, RuntimeEvent, ServiceState
from sre_space.models.fleet import FleetSpec, ServiceSpec, parse_fleet
from sre_space.stack.gitops_repo import FleetRepo
from sre_space.stack.reconciler import DriftKind, Reconciler, plan_drift

FLEET = parse_fleet(
    "services:\n  db: {replicas: 1}\n  api: {replicas: 2, depends_on: [db], config: {TIMEOUT: 1}}\n"
)


def running(spec: ServiceSpec, count: int | None = None) -> ServiceState:
    n = spec.replicas if count is None else count
    inst = [
        InstanceState(service=spec.name, instance=f"{spec.name}-{i}", status=InstanceStatus.RUNNING) for i in range(n)
    ]
    return ServiceState(service=spec.name, spec=spec, instances=inst)


db, api = FLEET.service("db"), FLEET.service("api")


@pytest.mark.parametrize(
    ("observed", "expected"),
    [
        ({"db": running(db), "api": running(api)}, []),  # in sync
        ({"db": running(db)}, [("api", DriftKind.MISSING)]),  # a service never started
        ({"db": running(db, 0), "api": running(api)}, [("db", DriftKind.MISSING)]),  # all instances gone
        ({"db": running(db), "api": running(api, 1)}, [("api", DriftKind.REPLICAS)]),  # one replica short
        (  # a config knob differs from the desired one
            {"db": running(db), "api": running(api.model_copy(update={"config": {"TIMEOUT": 5}}))},
            [("api", DriftKind.SPEC_CHANGED)],
        ),
        (  # a service that is no longer desired
            {"db": running(db), "api": running(api), "old": running(ServiceSpec(name="old"))},
            [("old", DriftKind.UNMANAGED)],
        ),
        ({}, [("db", DriftKind.MISSING), ("api", DriftKind.MISSING)]),  # nothing runs: start order
    ],
)
def test_plan_drift(observed: dict[str, ServiceState], expected: list[tuple[str, DriftKind]]) -> None:
    assert [(d.service, d.kind) for d in plan_drift(FLEET, observed)] == expected


def test_spec_change_detail_names_the_knob() -> None:
    changed = api.model_copy(update={"config": {"TIMEOUT": 5}, "memory_mb": 512})
    (drift,) = plan_drift(FLEET, {"db": running(db), "api": running(changed)})
    assert "config[TIMEOUT]" in drift.detail and "memory_mb" in drift.detail


class RecordingRuntime:
    """A minimal in-memory runtime: records what the reconciler asks of it."""

    kind = "memory"
    memory_enforcement = "none"

    def __init__(self, fail: set[str] | None = None) -> None:
        self.running: dict[str, ServiceState] = {}
        self.calls: list[str] = []
        self.fail = fail or set()

    def apply(self, spec: ServiceSpec) -> ServiceState:
        self.calls.append(f"apply {spec.name}")
        if spec.name in self.fail:
            raise RuntimeError(f"{spec.name} would not start")
        self.running[spec.name] = running(spec)
        return self.running[spec.name]

    def stop(self, service: str) -> None:
        self.calls.append(f"stop {service}")
        self.running.pop(service, None)

    def state(self, service: str) -> ServiceState:
        return self.running.get(service, ServiceState(service=service))

    def services(self) -> list[str]:
        return list(self.running)

    def restart(self, service: str) -> ServiceState:
        return self.state(service)

    def scale(self, service: str, replicas: int) -> ServiceState:
        return self.state(service)

    def events(self, since: datetime | None = None) -> list[RuntimeEvent]:
        return []

    def logs(self, service: str, tail: int = 100) -> list[str]:
        return []

    def close(self) -> None:
        self.running.clear()


def test_reconcile_applies_in_order_and_converges() -> None:
    runtime = RecordingRuntime()
    report = Reconciler(runtime).reconcile(FLEET)
    assert report.applied == ["db", "api"] and not report.errors
    assert Reconciler(runtime).drift(FLEET) == []


def test_one_failing_service_does_not_stop_the_pass() -> None:
    runtime = RecordingRuntime(fail={"db"})
    report = Reconciler(runtime).reconcile(FLEET)
    assert report.applied == ["api"]
    assert "would not start" in report.errors["db"]


def test_render_is_part_of_the_comparison() -> None:
    runtime = RecordingRuntime()
    wired = Reconciler(runtime, lambda s: s.model_copy(update={"port": 9000}))
    wired.reconcile(FLEET)
    assert wired.drift(FLEET) == []
    assert [d.kind for d in Reconciler(runtime).drift(FLEET)] == [DriftKind.SPEC_CHANGED] * 2


def test_gitops_repo_seed_commit_and_read(tmp_path: Path) -> None:
    seed = tmp_path / "fleet.yaml"
    seed.write_text("services:\n  db: {}\n")
    repo = FleetRepo(tmp_path / "repo").ensure(seed)
    first = repo.head()
    assert isinstance(repo.desired(), FleetSpec) and repo.desired().names() == ["db"]
    repo.commit("services:\n  db: {replicas: 2}\n", "Scale db to 2")
    assert repo.head() != first and repo.desired().service("db").replicas == 2
    assert "Scale db to 2" in repo.log()[0]
    FleetRepo(tmp_path / "repo").ensure(seed)  # an existing repository keeps its history
    assert repo.desired().service("db").replicas == 2
