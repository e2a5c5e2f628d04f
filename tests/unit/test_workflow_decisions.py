"""The workflow's pure decisions: routing, verification verdicts, plans, the signal rule, and the
idempotent execution of an action against the audit log (with a recording ``Actions`` backend)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agents.brain.rules import classify_signal
from agents.fixer.audit import AuditLog, AuditRecord, Outcome, Phase, idempotency_key
from agents.fixer.execute import effect_seen, execute
from agents.fixer.policy import needs_approval, plan_for
from agents.fixer.verify import judge
from agents.workflow import after_act, after_approve, after_learn, after_plan, after_verify
from agents.workflow_steps import escalation_reason
from sre_space.errors import BackendUnavailable
from sre_space.models.diagnosis import Candidate, Diagnosis, FaultClass
from sre_space.models.plan import ActionKind, Plan, ServiceHealth, Verdict
from tests.workflow_doubles import RecordingActions

RESTART = Plan(action=ActionKind.RESTART, target="user-service", risk=0.3).model_dump(mode="json")
RISKY = Plan(action=ActionKind.RESTART, target="user-service", risk=0.7).model_dump(mode="json")
NOTHING = Plan(action=ActionKind.NONE, reason="no automatic remedy").model_dump(mode="json")


@pytest.mark.parametrize(
    ("plan", "threshold", "route"),
    [
        (RESTART, 0.5, "act"),  # low risk: act at once
        (RISKY, 0.5, "approve"),  # riskier than the threshold: wait for a person
        (RESTART, 0.3, "act"),  # the threshold itself does not need approval
        (RESTART, 0.0, "approve"),  # threshold 0: every action is approved by a person
        (NOTHING, 0.5, "escalate"),  # nothing automatic to do
    ],
)
def test_after_plan(plan: dict[str, Any], threshold: float, route: str) -> None:
    assert after_plan({"plan": plan}, threshold) == route


@pytest.mark.parametrize(
    ("fn", "state", "route"),
    [
        (after_approve, {"approved": True}, "act"),
        (after_approve, {"approved": False}, "escalate"),  # rejected
        (after_act, {"action": {"outcome": "ok"}}, "verify"),
        (after_act, {"action": {"outcome": "found_done"}}, "verify"),  # resumed after a crash
        (after_act, {"action": {"outcome": "error"}}, "plan"),  # failed: next attempt
        (after_verify, {"verdict": "mitigated"}, "learn"),
        (after_verify, {"verdict": "worse"}, "undo"),
        (after_verify, {"verdict": "unchanged"}, "escalate"),
        (after_learn, {"outcome": "resolved"}, "close"),
        (after_learn, {"outcome": "escalated"}, "__end__"),  # stays open for a person
    ],
)
def test_routes(fn: Any, state: dict[str, Any], route: str) -> None:
    assert fn(state) == route


def health(running: int = 1, h: bool | None = True, r: bool | None = True) -> ServiceHealth:
    return ServiceHealth(service="s", instances=1, running=running, health=h, ready=r)


UP, DOWN, HALF = health(), health(0, False, False), health(1, True, False)


@pytest.mark.parametrize(
    ("baseline", "latest", "streak", "expired", "verdict"),
    [
        (DOWN, UP, 3, False, Verdict.MITIGATED),  # stably healthy
        (DOWN, UP, 1, False, None),  # healthy, not yet for long enough: keep watching
        (DOWN, DOWN, 0, False, None),  # not yet: keep watching
        (DOWN, UP, 1, True, Verdict.MITIGATED),  # healthy at the deadline
        (DOWN, DOWN, 0, True, Verdict.UNCHANGED),  # as down as before
        (HALF, DOWN, 0, True, Verdict.WORSE),  # was running, now is not
        (HALF, HALF, 0, True, Verdict.UNCHANGED),  # still half up
        (health(1, None, None), health(1, None, None), 3, False, Verdict.MITIGATED),  # no probes: running counts
    ],
)
def test_judge(baseline: ServiceHealth, latest: ServiceHealth, streak: int, expired: bool,
               verdict: Verdict | None) -> None:
    assert judge(baseline, latest, streak, 3, expired) == verdict


def diagnosis(fault: FaultClass | None, inconclusive: bool = False) -> Diagnosis:
    cands = [Candidate(service="policy-service", score=0.9, fault_class=fault)] if fault else []
    return Diagnosis(candidates=cands, fault_class=fault, inconclusive=inconclusive)


@pytest.mark.parametrize(
    ("diag", "attempt", "action", "target", "risk"),
    [
        # the target is the diagnosed candidate, not the service that showed the symptom
        (diagnosis(FaultClass.CRASH_OOM), 1, ActionKind.RESTART, "policy-service", 0.3),
        (diagnosis(FaultClass.DEPENDENCY_UNAVAILABLE), 1, ActionKind.RESTART, "policy-service", 0.3),
        (diagnosis(FaultClass.CRASH_OOM), 2, ActionKind.RESTART, "policy-service", 0.5),  # a retry is riskier
        (diagnosis(FaultClass.LATENCY), 1, ActionKind.NONE, None, 0.0),  # no automatic remedy
        (diagnosis(FaultClass.CRASH_OOM, inconclusive=True), 1, ActionKind.NONE, None, 0.0),
        (diagnosis(None, inconclusive=True), 1, ActionKind.NONE, None, 0.0),
    ],
)
def test_plan_for(diag: Diagnosis, attempt: int, action: ActionKind, target: str | None, risk: float) -> None:
    plan = plan_for(diag, "frontend", attempt)
    assert (plan.action, plan.target, plan.attempt) == (action, target, attempt)
    assert plan.risk == pytest.approx(risk)
    assert needs_approval(plan, 0.4) == (risk > 0.4)


@pytest.mark.parametrize(
    ("signal", "fault"),
    [
        ("oom_killed", FaultClass.CRASH_OOM),
        ("exited", FaultClass.CRASH_OOM),
        ("health_down", FaultClass.DEPENDENCY_UNAVAILABLE),
        ("conversion_drop", FaultClass.BUSINESS_LOGIC),
        ("policy_failed_ratio", FaultClass.BUSINESS_LOGIC),  # business before the generic "fail"
        ("p95_latency", FaultClass.LATENCY),
        ("error_ratio", FaultClass.ERRORS),
        ("consumer_lag", FaultClass.SATURATION),
        ("mystery", None),
    ],
)
def test_classify_signal(signal: str, fault: FaultClass | None) -> None:
    assert classify_signal(signal) == fault


def test_escalation_reasons() -> None:
    assert escalation_reason({"plan": NOTHING}) == "no automatic remedy"
    assert "not approved (bob)" in escalation_reason({"plan": RISKY, "approved": False, "approved_by": "bob"})
    assert "still unhealthy after restart" in escalation_reason({"plan": RESTART, "verdict": "unchanged"})


# --- idempotent execution -----------------------------------------------------------------

KEY = idempotency_key(7, "act", "1.1")


def run(audit: AuditLog, actions: RecordingActions) -> AuditRecord:
    return execute(key=KEY, incident=7, action=ActionKind.RESTART, target="user-service", why="test",
                   who="w1", actions=actions, audit=audit)


def test_an_action_runs_once_per_key(tmp_path: Path) -> None:
    audit, actions = AuditLog(tmp_path), RecordingActions()
    first = run(audit, actions)
    again = run(audit, actions)
    assert actions.calls == [(ActionKind.RESTART, "user-service")]
    assert first == again and first.outcome == Outcome.OK
    assert [r.phase for r in audit.records(KEY)] == [Phase.BEFORE, Phase.AFTER]
    assert first.world["running"] == 0  # what was seen before acting


def test_interrupted_action_whose_effect_is_seen_is_not_repeated(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path)
    # a process wrote "before", restarted the service (restart_count 0 -> 1) and died
    audit.append(AuditRecord(key=KEY, phase=Phase.BEFORE, incident=7, what="restart user-service", who="dead",
                             world=ServiceHealth(service="user-service", restart_count=0).model_dump(mode="json")))
    actions = RecordingActions(lambda s, n: ServiceHealth(service=s, instances=1, running=1, restart_count=1))
    rec = run(audit, actions)
    assert actions.calls == []
    assert rec.outcome == Outcome.FOUND_DONE
    assert [r.phase for r in audit.records(KEY)] == [Phase.BEFORE, Phase.AFTER]


def test_interrupted_action_without_effect_runs_once(tmp_path: Path) -> None:
    audit, actions = AuditLog(tmp_path), RecordingActions()
    audit.append(AuditRecord(key=KEY, phase=Phase.BEFORE, incident=7, what="restart user-service", who="dead",
                             world=ServiceHealth(service="user-service").model_dump(mode="json")))
    rec = run(audit, actions)
    assert rec.outcome == Outcome.OK and len(actions.calls) == 1
    assert sum(r.phase == Phase.AFTER for r in audit.records(KEY)) == 1


@pytest.mark.parametrize(
    ("started_offset", "restarts", "seen"),
    [
        (timedelta(seconds=1), 0, True),  # an instance started after "before"
        (timedelta(seconds=-1), 0, False),  # started before: the old process
        (timedelta(seconds=-1), 3, True),  # restart count rose
        (None, 2, False),  # nothing changed
    ],
)
def test_effect_seen(started_offset: timedelta | None, restarts: int, seen: bool) -> None:
    when = datetime(2025, 1, 1, tzinfo=UTC)
    before = AuditRecord(key=KEY, phase=Phase.BEFORE, incident=7, what="x", who="w", when=when,
                         world=ServiceHealth(service="s", restart_count=2).model_dump(mode="json"))
    now = ServiceHealth(service="s", restart_count=restarts,
                        last_started=when + started_offset if started_offset is not None else None)
    assert effect_seen(before, now) is seen


def test_a_failing_action_is_recorded_as_error(tmp_path: Path) -> None:
    class Failing(RecordingActions):
        def perform(self, action: ActionKind, target: str, params: dict[str, Any]) -> str:
            raise BackendUnavailable("control API unreachable")

    audit = AuditLog(tmp_path)
    rec = run(audit, Failing())
    assert rec.outcome == Outcome.ERROR and "unreachable" in rec.detail


def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path)
    run(audit, RecordingActions())
    with audit.path.open("a") as f:
        f.write('{"key": "incident-7/act/1.1", "pha')  # kill -9 mid-write
    assert len(audit.records()) == 2
