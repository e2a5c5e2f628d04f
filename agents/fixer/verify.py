"""Verify an action: poll the service's health until it is stably healthy or a deadline passes,
then judge against what was seen before the action (mitigated, unchanged, or worse).

The deadline is absolute (epoch seconds, fixed when the action ran), so a verification resumed
after a crash keeps the original deadline instead of starting a fresh one.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict

from agents.fixer.actions import Actions
from sre_space.models.plan import ServiceHealth, Verdict


class VerifyResult(BaseModel):
    """The verdict, the last observation it rests on, and how many checks it took."""

    model_config = ConfigDict(frozen=True)

    verdict: Verdict
    latest: ServiceHealth
    checks: int


def judge(
    baseline: ServiceHealth, latest: ServiceHealth, streak: int, stable_needed: int, expired: bool
) -> Verdict | None:
    """Pure decision after one health check; None means "keep watching"."""
    if latest.healthy and streak >= stable_needed:
        return Verdict.MITIGATED
    if not expired:
        return None
    if latest.healthy:  # healthy at the deadline, even if not yet for long enough
        return Verdict.MITIGATED
    return Verdict.WORSE if latest.score < baseline.score else Verdict.UNCHANGED


def verify(
    service: str,
    baseline: ServiceHealth,
    deadline: float,
    actions: Actions,
    *,
    interval: float,
    stable_checks: int,
    now: Callable[[], float] = time.time,
    wait: Callable[[float], None] = time.sleep,
) -> VerifyResult:
    """Check ``service`` every ``interval`` seconds until ``judge`` decides."""
    streak = checks = 0
    while True:
        latest = actions.observe(service)
        checks += 1
        streak = streak + 1 if latest.healthy else 0
        verdict = judge(baseline, latest, streak, stable_checks, now() >= deadline)
        if verdict is not None:
            return VerifyResult(verdict=verdict, latest=latest, checks=checks)
        wait(interval)
