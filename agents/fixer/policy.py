"""From a diagnosis to a plan, and whether the plan may run without a person's approval.

Pure functions: restart for a crashed, OOM-killed or unavailable service; no automatic action
otherwise (the workflow escalates to a person). A repeated attempt is riskier than the first.
"""

from __future__ import annotations

from sre_space.models.diagnosis import Diagnosis, FaultClass
from sre_space.models.plan import ActionKind, Plan

RESTARTABLE = frozenset({FaultClass.CRASH_OOM, FaultClass.DEPENDENCY_UNAVAILABLE})
RESTART_RISK = 0.3
RISK_PER_RETRY = 0.2


def plan_for(diagnosis: Diagnosis, service: str, attempt: int = 1) -> Plan:
    """The remediation for ``diagnosis`` of an incident on ``service`` (its ``attempt``-th plan)."""
    target = diagnosis.top.service if diagnosis.top else service
    fault = diagnosis.fault_class
    if fault in RESTARTABLE and not diagnosis.inconclusive:
        return Plan(
            action=ActionKind.RESTART,
            target=target,
            risk=min(1.0, RESTART_RISK + RISK_PER_RETRY * (attempt - 1)),
            expected_effect=f"{target} running and passing its health and readiness checks",
            reversal=None,  # a restart has nothing to put back
            reason=f"{fault.value if fault else 'unknown'} on {target}: a fresh process is the standard first remedy",
            attempt=attempt,
        )
    why = "the diagnosis is inconclusive" if diagnosis.inconclusive or fault is None else f"{fault.value}"
    return Plan(action=ActionKind.NONE, reason=f"no automatic remedy: {why}", attempt=attempt)


def needs_approval(plan: Plan, threshold: float) -> bool:
    """A plan riskier than ``threshold`` waits for a person (label ``approved`` or the CLI)."""
    return not plan.needs_human and plan.risk > threshold
