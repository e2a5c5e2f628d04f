"""Run one action exactly once per idempotency key, with the audit log as the memory of what ran.

Order: an ``after`` record for the key → the action is done, return it. A ``before`` without an
``after`` → a previous process died around the action: look at the world, and when the action's
effect is there (an instance started after the ``before`` record, or a higher restart count),
record ``found_done`` instead of acting again. Otherwise: observe, write ``before``, perform,
write ``after`` (``ok`` or ``error``). Every record is also handed to ``mirror`` (the incident).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC

from agents.fixer.actions import Actions
from agents.fixer.audit import AuditLog, AuditRecord, Outcome, Phase
from sre_space.errors import SREError
from sre_space.models.plan import ActionKind, ServiceHealth

Mirror = Callable[[AuditRecord], None]


def effect_seen(before: AuditRecord, now: ServiceHealth) -> bool:
    """Did a restart (or start) happen after ``before`` was written? Pure; the world check."""
    seen = ServiceHealth.model_validate(before.world) if before.world else None
    if now.last_started is not None:
        started = now.last_started if now.last_started.tzinfo else now.last_started.replace(tzinfo=UTC)
        if started > before.when:
            return True
    return seen is not None and now.restart_count > seen.restart_count


def execute(
    *,
    key: str,
    incident: int,
    action: ActionKind,
    target: str,
    why: str,
    who: str,
    actions: Actions,
    audit: AuditLog,
    mirror: Mirror = lambda record: None,
) -> AuditRecord:
    """Perform ``action`` on ``target`` once for ``key``; return the ``after`` record."""
    done = audit.last(key, Phase.AFTER)
    if done is not None:
        return done
    what = f"{action.value} {target}"

    def record(phase: Phase, world: ServiceHealth, outcome: Outcome | None = None, detail: str = "") -> AuditRecord:
        rec = audit.append(
            AuditRecord(
                key=key, phase=phase, incident=incident, what=what, why=why, who=who, outcome=outcome,
                detail=detail, world=world.model_dump(mode="json"),
            )
        )
        mirror(rec)
        return rec

    started = audit.last(key, Phase.BEFORE)
    if started is not None:
        now = actions.observe(target)
        if effect_seen(started, now):
            return record(Phase.AFTER, now, Outcome.FOUND_DONE, "the action had run before an interruption")
    world = actions.observe(target)
    record(Phase.BEFORE, world)
    try:
        detail = actions.perform(action, target, {})
    except SREError as exc:
        return record(Phase.AFTER, world, Outcome.ERROR, str(exc))
    return record(Phase.AFTER, world, Outcome.OK, detail)
