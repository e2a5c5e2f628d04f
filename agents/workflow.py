"""The control-plane workflow: one langgraph run per incident (``thread_id`` = incident number),
checkpointed in ``<home>/checkpoints.db`` after every step (``durability="sync"``).

    recall → diagnose → plan
    plan     → act | approve (risk above the threshold) | escalate (nothing automatic, or attempts used up)
    approve  → act | escalate (rejected)      -- waits with ``interrupt()`` for `approved` or the CLI
    act      → verify | plan (the action failed: next attempt)
    verify   → learn (mitigated) | undo (worse than before) | escalate (no better)
    undo     → plan;   escalate → learn;   learn → close (resolved) | END (escalated: stays open)

The graph is only control flow: each node reads the typed state, calls a plain function of an
agent (Memory's recall, Brain's diagnose, Fixer's policy/execute/verify, Memory's postmortem),
posts the step on the incident and returns a partial update. Routing is pure functions of the
state (``after_*``), so it is table-tested without langgraph.
"""

from __future__ import annotations

import enum
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command

from agents.approval import Approval
from agents.fixer.policy import needs_approval
from agents.workflow_steps import Nodes, WorkflowDeps, WorkflowState, WorkflowStopped
from sre_space.models.events import IncidentWorkItem
from sre_space.models.plan import Plan, Verdict

CHECKPOINTS = "checkpoints.db"


# --- routing: pure decisions --------------------------------------------------------------


def after_plan(state: WorkflowState, approval_risk: float) -> str:
    plan = Plan.model_validate(state["plan"])
    if plan.needs_human:
        return "escalate"
    return "approve" if needs_approval(plan, approval_risk) else "act"


def after_approve(state: WorkflowState) -> str:
    return "act" if state.get("approved") else "escalate"


def after_act(state: WorkflowState) -> str:
    """A failed action goes back to planning (the next attempt, or escalation when none is left)."""
    action = state.get("action") or {}
    return "verify" if action.get("outcome") in ("ok", "found_done") else "plan"


def after_verify(state: WorkflowState) -> str:
    verdict = state.get("verdict")
    if verdict == Verdict.MITIGATED:
        return "learn"
    return "undo" if verdict == Verdict.WORSE else "escalate"


def after_learn(state: WorkflowState) -> str:
    return "close" if state.get("outcome") == "resolved" else END


def after_undo(state: WorkflowState) -> str:
    return "plan"


# --- the graph ------------------------------------------------------------------------------


def build_graph(deps: WorkflowDeps, checkpointer: SqliteSaver | None = None) -> Any:
    """The compiled workflow; pass a checkpointer for durable runs (``open_checkpointer``)."""
    nodes = Nodes(deps)
    graph = StateGraph(WorkflowState)
    for name in ("recall", "diagnose", "plan", "approve", "act", "verify", "undo", "escalate", "learn", "close"):
        graph.add_node(name, getattr(nodes, name))
    graph.add_edge(START, "recall")
    graph.add_edge("recall", "diagnose")
    graph.add_edge("diagnose", "plan")
    risk = deps.settings.approval_risk
    graph.add_conditional_edges("plan", lambda s: after_plan(s, risk), ["approve", "act", "escalate"])
    graph.add_conditional_edges("approve", after_approve, ["act", "escalate"])
    graph.add_conditional_edges("act", after_act, ["verify", "plan"])
    graph.add_conditional_edges("verify", after_verify, ["learn", "undo", "escalate"])
    graph.add_conditional_edges("undo", after_undo, ["plan"])
    graph.add_edge("escalate", "learn")
    graph.add_conditional_edges("learn", after_learn, ["close", END])
    graph.add_edge("close", END)
    return graph.compile(checkpointer=checkpointer)


def open_checkpointer(home: Path) -> SqliteSaver:
    """The SQLite checkpointer of ``home`` (WAL; shared by every worker on this machine)."""
    home.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(home / CHECKPOINTS, check_same_thread=False, timeout=30.0)
    saver = SqliteSaver(conn)
    saver.setup()
    return saver


def thread_config(incident: int) -> dict[str, Any]:
    return {"configurable": {"thread_id": str(incident)}}


class Progress(enum.StrEnum):
    """Where a run stands after ``drive``: finished, or waiting for a person."""

    DONE = "done"
    WAITING = "waiting"


def drive(app: Any, item: IncidentWorkItem, run: int, approval: Callable[[], Approval | None]) -> Progress:
    """Bring incident ``item`` as far as it can go now: answer a pending approval when ``approval``
    has one, resume a run a crash interrupted, or start run number ``run`` when it has not started."""
    config = thread_config(item.incident)
    snap = app.get_state(config)
    if snap.interrupts:
        decision = approval()
        if decision is None:
            return Progress.WAITING
        app.invoke(Command(resume=decision.model_dump()), config, durability="sync")
    elif snap.next:
        app.invoke(None, config, durability="sync")  # resume from the last checkpoint
    snap = app.get_state(config)
    if not snap.interrupts and not snap.next and int(snap.values.get("run", 0)) < run:
        app.invoke({"item": item.model_dump(mode="json"), "run": run}, config, durability="sync")
        snap = app.get_state(config)
    return Progress.WAITING if snap.interrupts else Progress.DONE


__all__ = [
    "Nodes",
    "Progress",
    "WorkflowDeps",
    "WorkflowState",
    "WorkflowStopped",
    "build_graph",
    "drive",
    "open_checkpointer",
    "thread_config",
]
