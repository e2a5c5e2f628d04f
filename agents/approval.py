"""Approvals: a person approves a waiting plan with the ``approved`` label on the incident (in the
tracker's own UI) or with ``sre-space approve N`` (``approve`` below, which sets that label and
says who). The worker polls waiting incidents with ``approval_of`` and resumes their workflow.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from sre_space.adapters.tracker import Tracker, TrackerRejected
from sre_space.models.incident import IssueState, Label, parse_posts, render_post

OPERATOR = "operator"


class Approval(BaseModel):
    """The value a waiting workflow resumes with."""

    model_config = ConfigDict(frozen=True)

    approved: bool = True
    by: str


def approve(tracker: Tracker, number: int, by: str = "cli") -> str:
    """Approve incident ``number``'s plan; returns one line for the CLI. A closed or unknown incident
    is a ``TrackerRejected`` (one line); approving before the workflow asks is allowed."""
    issue = tracker.get_issue(number)
    if issue.state == IssueState.CLOSED:
        raise TrackerRejected(f"incident #{number} is closed: nothing to approve")
    waiting = issue.has_label(Label.NEEDS_APPROVAL)
    post = render_post(OPERATOR, f"Plan approved by {by}.", {"approval": {"approved": True, "by": by}})
    tracker.comment(number, post)
    tracker.add_labels(number, [Label.APPROVED])
    if waiting:
        return f"approved incident #{number}; its workflow resumes at the worker's next check"
    return f"approved incident #{number} ahead of time; it applies when its workflow asks"


def approval_of(tracker: Tracker, number: int) -> Approval | None:
    """The approval of incident ``number`` when it carries the ``approved`` label, else None; ``by``
    comes from the last approval post (``approve``), or names the label when a person set it.
    An incident closed while its plan waits counts as a rejection."""
    issue = tracker.get_issue(number)
    if issue.state == IssueState.CLOSED:
        return Approval(approved=False, by="nobody: the incident was closed while waiting")
    if not issue.has_label(Label.APPROVED):
        return None
    by = "label `approved`"
    for post in parse_posts(tracker.comments(number)):
        data = post.data.get("approval")
        if post.agent == OPERATOR and isinstance(data, dict) and isinstance(data.get("by"), str):
            by = data["by"]
    return Approval(by=by)
