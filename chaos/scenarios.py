"""The chaos catalogue: each scenario is a neutral knob turned on one service, with its ground truth.

Kinds of knob (DESIGN §6): a runtime flag the service honours (``flag``), a runtime action
(``runtime``), or a change to the desired state committed to the GitOps repository (``change``).
The fleet never learns that a knob was turned by a scenario.
"""

from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict, Field


class Knob(enum.StrEnum):
    FLAG = "flag"
    RUNTIME = "runtime"
    CHANGE = "change"


class Scenario(BaseModel):
    """A fault with its ground truth: where it is, what class it is, what should mitigate it."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    knob: Knob
    target: str
    fault_class: str
    expected_mitigation: str
    flags: dict[str, float | int | str | bool] = Field(default_factory=dict)
    config_change: dict[str, float | int | str | bool] = Field(default_factory=dict)


CATALOGUE: dict[str, Scenario] = {
    s.name: s
    for s in [
        Scenario(
            name="oom",
            description="memory grows until the runtime kills the process at its limit (exit 137)",
            knob=Knob.FLAG, target="quote-service", fault_class="crash_oom",
            expected_mitigation="restart, then raise the memory limit or roll back",
            flags={"memory_growth_mb_per_s": 40},
        ),
        Scenario(
            name="kill",
            description="the service's processes are stopped: callers see it as unavailable",
            knob=Knob.RUNTIME, target="user-service", fault_class="dependency_unavailable",
            expected_mitigation="restart",
        ),
        Scenario(
            name="latency",
            description="every request to the service takes 800 ms longer",
            knob=Knob.FLAG, target="user-service", fault_class="latency",
            expected_mitigation="restart or roll back; callers' timeouts and circuit breakers limit the damage",
            flags={"extra_latency_ms": 800},
        ),
        Scenario(
            name="errors",
            description="half of the service's requests fail with HTTP 500",
            knob=Knob.FLAG, target="quote-service", fault_class="errors",
            expected_mitigation="roll back or restart",
            flags={"error_rate": 0.5},
        ),
        Scenario(
            name="bad-config",
            description="a desired-state change lowers the maximum premium so policy purchases fail",
            knob=Knob.CHANGE, target="policy-service", fault_class="bad_change",
            expected_mitigation="revert the change (GitOps pull request)",
            config_change={"MAX_POLICY_PREMIUM": 1},
        ),
    ]
}
