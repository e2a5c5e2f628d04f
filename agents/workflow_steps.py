"""The workflow's nodes. Each one reads the state, calls one agent's plain function, posts the step
on the incident (``Timeline``: once per step key, with the ``status:*`` label) and returns a
partial state update. Side effects carry idempotency keys (``incident-N/<step>/<run>.<attempt>``)
so a step re-run after ``kill -9`` finishes instead of repeating.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from langgraph.types import interrupt

from agents.approval import Approval
from agents.brain.report import render_diagnosis
from agents.brain.rules import Diagnose, diagnose_by_rule
from agents.fixer.actions import Actions
from agents.fixer.audit import AuditLog, AuditRecord, Phase, idempotency_key
from agents.fixer.execute import execute
from agents.fixer.policy import plan_for
from agents.fixer.verify import verify
from agents.timeline import Timeline
from knowledge.postmortem import record_outcome
from knowledge.recall import recall
from sre_space.adapters.tracker import Tracker
from sre_space.config import WorkflowSettings
from sre_space.errors import SREError
from sre_space.models.diagnosis import Diagnosis
from sre_space.models.events import IncidentWorkItem
from sre_space.models.incident import IssueState, Label, Status
from sre_space.models.plan import ActionKind, Plan, ServiceHealth, Verdict

log = logging.getLogger(__name__)


class WorkflowState(TypedDict, total=False):
    """What the graph carries between steps: plain JSON-able values (models are dumped)."""

    item: dict[str, Any]
    run: int
    attempt: int
    recalled: list[dict[str, Any]]
    diagnosis: dict[str, Any] | None
    plan: dict[str, Any] | None
    approved: bool | None
    approved_by: str | None
    baseline: dict[str, Any] | None
    acted_at: float | None
    action: dict[str, Any] | None
    verdict: str | None
    outcome: str | None
    reason: str | None


class WorkflowStopped(SREError):
    """The worker is stopping: the run ends here and resumes from its last checkpoint later."""


@dataclass
class WorkflowDeps:
    """Everything the nodes use, injected (ports, settings, the diagnose function, the clock)."""

    tracker: Tracker
    actions: Actions
    home: Path
    settings: WorkflowSettings
    diagnose: Diagnose = diagnose_by_rule
    who: str = "workflow"
    jaeger_url: str | None = None  # links example traces in Brain's post to a Jaeger UI
    now: Callable[[], float] = time.time
    wait: Callable[[float], None] = time.sleep
    audit: AuditLog = field(init=False)

    def __post_init__(self) -> None:
        self.audit = AuditLog(self.home)


def escalation_reason(state: WorkflowState) -> str:
    """Why a person must take over, from the state alone (pure)."""
    plan = Plan.model_validate(state["plan"]) if state.get("plan") else None
    if plan is None or plan.needs_human:
        return plan.reason if plan else "no plan"
    if state.get("approved") is False:
        return f"the plan was not approved ({state.get('approved_by')})"
    return f"{plan.target} is still unhealthy after {plan.action.value} (attempt {plan.attempt})"


class Nodes:
    """The graph's nodes, bound to their dependencies."""

    def __init__(self, deps: WorkflowDeps) -> None:
        self.d = deps

    # --- helpers
    @staticmethod
    def _item(s: WorkflowState) -> IncidentWorkItem:
        return IncidentWorkItem.model_validate(s["item"])

    def _timeline(self, s: WorkflowState) -> Timeline:
        return Timeline(self.d.tracker, self._item(s).incident)

    def _key(self, s: WorkflowState, step: str, per_attempt: bool = False) -> str:
        run = s.get("run", 1)
        return idempotency_key(self._item(s).incident, step, f"{run}.{s.get('attempt', 0)}" if per_attempt else run)

    @staticmethod
    def _plan(s: WorkflowState) -> Plan:
        return Plan.model_validate(s["plan"])

    # --- nodes
    def recall(self, s: WorkflowState) -> WorkflowState:
        found = recall(self._item(s))
        update: WorkflowState = {
            "recalled": found, "attempt": 0, "diagnosis": None, "plan": None, "approved": None, "approved_by": None,
            "baseline": None, "acted_at": None, "action": None, "verdict": None, "outcome": None, "reason": None,
        }
        text = f"Run {s.get('run', 1)} started. Recalled {len(found)} similar past incident(s)."
        self._timeline(s).post("memory", self._key(s, "recall"), text, {"recalled": found})
        return update

    def diagnose(self, s: WorkflowState) -> WorkflowState:
        item = self._item(s)
        try:
            diagnosis = self.d.diagnose(item)
        except Exception as exc:  # noqa: BLE001 - a failing diagnosis must not stop the incident
            log.exception("diagnosis of incident #%s failed", item.incident)
            diagnosis = Diagnosis(inconclusive=True, summary=f"diagnosis failed: {exc}")
        dump = diagnosis.model_dump(mode="json")
        text = render_diagnosis(diagnosis, self.d.jaeger_url)
        self._timeline(s).post("brain", self._key(s, "diagnose"), text, {"diagnosis": dump}, status=Status.DIAGNOSED)
        return {"diagnosis": dump}

    def plan(self, s: WorkflowState) -> WorkflowState:
        attempt = s.get("attempt", 0) + 1
        limit = self.d.settings.max_attempts
        if attempt > limit:
            plan = Plan(action=ActionKind.NONE, reason=f"{limit} attempt(s) did not mitigate it", attempt=attempt)
        else:
            plan = plan_for(Diagnosis.model_validate(s["diagnosis"]), self._item(s).service, attempt)
        update: WorkflowState = {
            "plan": plan.model_dump(mode="json"), "attempt": attempt, "approved": None, "action": None, "verdict": None,
        }
        what = "no automatic action" if plan.needs_human else f"{plan.action.value} {plan.target}"
        text = f"Plan (attempt {attempt}): **{what}**, risk {plan.risk:.2f}. {plan.reason}."
        if plan.expected_effect:
            text += f" Expected: {plan.expected_effect}."
        self._timeline(s).post("fixer", self._key({**s, "attempt": attempt}, "plan", True), text, update)
        return update

    def approve(self, s: WorkflowState) -> WorkflowState:
        plan, timeline, key = self._plan(s), self._timeline(s), self._key(s, "approve", True)
        number = timeline.number
        if not timeline.posted(key):
            timeline.label(remove=[Label.APPROVED])  # an earlier plan's approval must not approve this one
        text = (
            f"Waiting for approval of **{plan.action.value} {plan.target}** (risk {plan.risk:.2f} is above "
            f"{self.d.settings.approval_risk:.2f}). Add the label `approved` or run `sre-space approve {number}`."
        )
        timeline.post("fixer", key, text, {"waiting": True}, add=[Label.NEEDS_APPROVAL])
        answer = Approval.model_validate(interrupt({"incident": number, "key": key, "plan": s["plan"]}))
        update: WorkflowState = {"approved": answer.approved, "approved_by": answer.by}
        verb = "approved" if answer.approved else "rejected"
        timeline.post("fixer", key + "#answer", f"Plan {verb} by {answer.by}.", update, remove=[Label.NEEDS_APPROVAL])
        return update

    def act(self, s: WorkflowState) -> WorkflowState:
        plan, timeline, key = self._plan(s), self._timeline(s), self._key(s, "act", True)
        assert plan.target is not None  # after_plan routes target-less plans to escalate

        def mirror(rec: AuditRecord) -> None:
            text = f"Audit ({rec.phase.value}): {rec.what}. Why: {rec.why}. Who: {rec.who}."
            if rec.outcome:
                text += f" Outcome: **{rec.outcome.value}** {rec.detail}".rstrip()
            state = _action_state(rec) if rec.phase == Phase.AFTER else {}
            timeline.post("fixer", f"{rec.key}#{rec.phase.value}", text, state, status=Status.MITIGATING,
                          extra={"audit": rec.model_dump(mode="json")})

        rec = execute(key=key, incident=timeline.number, action=plan.action, target=plan.target, why=plan.reason,
                      who=self.d.who, actions=self.d.actions, audit=self.d.audit, mirror=mirror)
        mirror(rec)  # a resume may find the after record written but its post missing
        before = self.d.audit.last(key, Phase.BEFORE)
        baseline = before.world if before is not None else rec.world
        return {**_action_state(rec), "baseline": baseline}

    def verify(self, s: WorkflowState) -> WorkflowState:
        plan, cfg = self._plan(s), self.d.settings
        assert plan.target is not None and s.get("acted_at") is not None
        baseline = ServiceHealth.model_validate(s.get("baseline") or {"service": plan.target})
        deadline = float(s["acted_at"] or 0) + cfg.verify_timeout_s  # fixed at the action: a resume keeps it
        result = verify(plan.target, baseline, deadline, self.d.actions, interval=cfg.verify_interval_s,
                        stable_checks=cfg.verify_stable_checks, now=self.d.now, wait=self.d.wait)
        latest = result.latest
        text = (
            f"Verify: **{result.verdict.value}** after {result.checks} check(s): {plan.target} "
            f"{latest.running}/{latest.instances} running, health {latest.health}, ready {latest.ready}."
        )
        status = Status.MITIGATED if result.verdict == Verdict.MITIGATED else None
        update: WorkflowState = {"verdict": result.verdict.value}
        self._timeline(s).post("fixer", self._key(s, "verify", True), text, update, status=status)
        return update

    def undo(self, s: WorkflowState) -> WorkflowState:
        plan, timeline, key = self._plan(s), self._timeline(s), self._key(s, "undo", True)
        if plan.reversal is not None and plan.target is not None:
            rec = execute(key=key, incident=timeline.number, action=plan.reversal, target=plan.target,
                          why=f"{plan.action.value} made {plan.target} worse", who=self.d.who,
                          actions=self.d.actions, audit=self.d.audit)
            text = f"Undo: {rec.what}: {rec.outcome.value if rec.outcome else '?'}."
        else:
            text = f"Undo: {plan.action.value} has no reversal; planning again."
        update: WorkflowState = {"reason": f"{plan.action.value} made {plan.target} worse"}
        timeline.post("fixer", key, text, update)
        return update

    def escalate(self, s: WorkflowState) -> WorkflowState:
        reason = escalation_reason(s)
        update: WorkflowState = {"outcome": "escalated", "reason": reason}
        timeline = self._timeline(s)
        is_open = self.d.tracker.get_issue(timeline.number).state == IssueState.OPEN
        text = f"Escalated to a person (`{Label.JULES_FIX.value}`): {reason}."
        timeline.post("fixer", self._key(s, "escalate"), text, update, add=[Label.JULES_FIX] if is_open else [],
                      remove=[Label.NEEDS_APPROVAL])
        return update

    def learn(self, s: WorkflowState) -> WorkflowState:
        item, key = self._item(s), self._key(s, "learn")
        outcome = s.get("outcome") or ("resolved" if s.get("verdict") == Verdict.MITIGATED else "escalated")
        diagnosis = s.get("diagnosis") or {}
        record_outcome(self.d.home, key, {
            "incident": item.incident, "service": item.service, "signal": item.signal,
            "fault_class": diagnosis.get("fault_class"), "plan": s.get("plan"), "verdict": s.get("verdict"),
            "attempts": s.get("attempt"), "outcome": outcome,
        })
        update: WorkflowState = {"outcome": outcome}
        text = f"Learned: {item.service} {item.signal} ended **{outcome}** after {s.get('attempt', 0)} attempt(s)."
        self._timeline(s).post("memory", key, text, update)
        return update

    def close(self, s: WorkflowState) -> WorkflowState:
        timeline = self._timeline(s)
        action = s.get("action") or {}
        text = f"Resolved: {action.get('what', 'the incident')} mitigated it; closing."
        timeline.post("workflow", self._key(s, "close"), text, {"outcome": "resolved"}, status=Status.RESOLVED,
                      remove=[Label.NEEDS_APPROVAL])
        if self.d.tracker.get_issue(timeline.number).state == IssueState.OPEN:
            self.d.tracker.close(timeline.number)
        return {"outcome": "resolved"}


def _action_state(rec: AuditRecord) -> WorkflowState:
    outcome = rec.outcome.value if rec.outcome else None
    return {
        "action": {"key": rec.key, "what": rec.what, "outcome": outcome, "detail": rec.detail},
        "acted_at": rec.when.timestamp(),
    }
