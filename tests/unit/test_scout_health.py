"""The health detector's verdict per service (``assess``): a table of runtime states and probe
results against the symptoms and clears expected, on an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from agents.scout.detectors.health import HealthDetector, HealthMemory, ServiceView, assess
from agents.scout.symptoms import CheckStatus
from sre_space.adapters.runtime.base import InstanceState, InstanceStatus
from sre_space.models.scout import ScoutSettings
from tests.unit.scout_helpers import T0

GRACE = 30.0


def inst(status: str = "running", started_ago: float = 600, restarts: int = 0, exit_code: int | None = None,
         oom: bool = False) -> InstanceState:
    return InstanceState(
        service="quote-service", instance="quote-service-0", status=InstanceStatus(status), restart_count=restarts,
        exit_code=exit_code, oom_killed=oom, started_at=datetime.fromtimestamp(T0 - started_ago, UTC),
    )


def run(view: ServiceView, memory: HealthMemory | None = None) -> tuple[set[str], set[str]]:
    found, clears = assess(view, memory or HealthMemory(), T0, GRACE)
    return {s.signal for s in found}, {c.signal for c in clears}


@pytest.mark.parametrize(
    ("instances", "health", "ready", "fired", "cleared"),
    [
        # healthy and ready: every signal clear
        ([inst()], True, True, set(), {"down", "not_ready", "oom_killed", "exited", "crash_loop"}),
        # stopped: no instance at all
        ([], None, None, {"down"}, {"oom_killed", "exited", "crash_loop"}),
        # running but /health does not answer (hung)
        ([inst()], False, False, {"down"}, {"oom_killed", "exited", "crash_loop"}),
        # alive, not ready: a soft symptom (pending decides later)
        ([inst()], True, False, {"not_ready"}, {"down", "oom_killed", "exited", "crash_loop"}),
        # in its crash backoff after an OOM kill: OOM-killed and down
        ([inst("restarting", exit_code=137, oom=True)], False, False, {"oom_killed", "down"}, {"exited", "crash_loop"}),
        # in its crash backoff after a plain exit
        ([inst("restarting", exit_code=1)], False, False, {"exited", "down"}, {"oom_killed", "crash_loop"}),
        # freshly started and not ready yet: neither symptom nor recovery for down/not_ready
        ([inst(started_ago=5)], False, False, set(), {"oom_killed", "exited", "crash_loop"}),
        # freshly started and ready: recovered
        ([inst(started_ago=5)], True, True, set(), {"down", "not_ready", "oom_killed", "exited", "crash_loop"}),
    ],
)
def test_assess(instances: list[InstanceState], health: bool | None, ready: bool | None, fired: set[str],
                cleared: set[str]) -> None:
    view = ServiceView(service="quote-service", instances=instances, health=health, ready=ready)
    assert run(view) == (fired, cleared)


def test_a_rising_restart_count_is_a_crash_even_when_the_backoff_was_missed() -> None:
    memory = HealthMemory()
    up = ServiceView(service="quote-service", instances=[inst(restarts=0)], health=True, ready=True)
    assert run(up, memory)[0] == set()  # the first sighting only records the count
    again = ServiceView(service="quote-service", instances=[inst(restarts=1, exit_code=137, oom=True)], health=True,
                        ready=True)
    assert run(again, memory)[0] == {"oom_killed"}
    assert run(again, memory)[0] == set()  # the same count: nothing new


def test_three_restarts_within_five_minutes_are_a_crash_loop() -> None:
    memory = HealthMemory()
    for restarts in range(4):
        fired, _ = run(ServiceView(service="quote-service", instances=[inst(restarts=restarts, exit_code=1)],
                                   health=True, ready=True), memory)
    assert "crash_loop" in fired


def test_a_service_scaled_to_zero_is_not_down() -> None:
    fired, cleared = run(ServiceView(service="quote-service", expected=False, instances=[]))
    assert fired == set() and {"down", "not_ready"} <= cleared


def test_detector_reads_the_control_api_and_probes() -> None:
    status: dict[str, Any] = {"services": [
        {"service": "quote-service", "instances": [inst().model_dump(mode="json")]},
        {"service": "user-service", "instances": []},
    ]}
    probed: list[str] = []

    def probe_all(urls: list[str]) -> dict[str, bool]:
        probed.extend(urls)
        return {u: "quote" in u for u in urls}

    detector = HealthDetector(
        ScoutSettings(), lambda: status, lambda: {"quote-service": "http://quote", "user-service": "http://user"},
        probe_all, lambda: None, lambda: T0,
    )
    check = detector.check()
    assert {(s.service, s.signal) for s in check.symptoms} == {("user-service", "down")}
    assert sorted(probed) == ["http://quote/health", "http://quote/ready", "http://user/health", "http://user/ready"]
    no_stack = HealthDetector(ScoutSettings(), lambda: None, dict, probe_all, lambda: None, lambda: T0).check()
    assert no_stack.status == CheckStatus.NO_DATA
