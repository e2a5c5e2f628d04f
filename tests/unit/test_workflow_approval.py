"""Approval: a risky plan waits (langgraph ``interrupt``) with ``needs-approval`` on the incident and
resumes on the ``approved`` label or on ``approve`` (what ``sre-space approve N`` calls)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.approval import Approval, approval_of, approve
from agents.workflow import Progress, drive, thread_config
from sre_space.adapters.tracker import IssueNotFound, TrackerRejected
from sre_space.models.plan import ActionKind, ServiceHealth
from tests.workflow_doubles import Rig, open_incident


def test_waits_with_needs_approval_and_resumes_on_the_label(tmp_path: Path) -> None:
    rig = Rig(tmp_path, approval_risk=0.1)
    item = open_incident(rig.tracker, "user-service", "exited")
    assert rig.drive(item) == Progress.WAITING
    assert rig.drive(item) == Progress.WAITING  # polling again changes nothing
    issue = rig.tracker.get_issue(item.incident)
    assert "needs-approval" in issue.labels and rig.actions.calls == []
    assert rig.steps(item.incident).count("approve") == 1  # the request is posted once

    rig.tracker.add_labels(item.incident, ["approved"])  # a person, in the tracker's UI
    assert rig.drive(item) == Progress.DONE
    assert rig.actions.calls == [(ActionKind.RESTART, "user-service")]
    issue = rig.tracker.get_issue(item.incident)
    assert "needs-approval" not in issue.labels and "status:resolved" in issue.labels
    assert rig.state(item.incident)["approved_by"] == "label `approved`"


def test_resumes_on_the_cli_approval_and_names_who(tmp_path: Path) -> None:
    rig = Rig(tmp_path, approval_risk=0.1)
    item = open_incident(rig.tracker, "user-service", "exited")
    rig.drive(item)
    message = approve(rig.tracker, item.incident, by="alice")
    assert message.startswith(f"approved incident #{item.incident}")
    assert approval_of(rig.tracker, item.incident) == Approval(by="alice")
    assert rig.drive(item) == Progress.DONE
    assert rig.state(item.incident)["approved_by"] == "alice" and len(rig.actions.calls) == 1


def test_a_rejection_escalates(tmp_path: Path) -> None:
    rig = Rig(tmp_path, approval_risk=0.1)
    item = open_incident(rig.tracker, "user-service", "exited")
    rig.drive(item)
    assert drive(rig.app, item, 1, lambda: Approval(approved=False, by="bob")) == Progress.DONE
    assert rig.actions.calls == []
    assert "jules-fix" in rig.tracker.get_issue(item.incident).labels
    assert "not approved (bob)" in rig.state(item.incident)["reason"]


def test_an_earlier_approval_does_not_approve_the_next_plan(tmp_path: Path) -> None:
    def worse_after(service: str, performed: int) -> ServiceHealth:
        up = performed == 0
        return ServiceHealth(service=service, instances=1, running=1, health=up, ready=False)

    rig = Rig(tmp_path, health=worse_after, approval_risk=0.1, max_attempts=2)
    item = open_incident(rig.tracker, "user-service", "exited")
    rig.drive(item)
    approve(rig.tracker, item.incident, by="alice")
    assert rig.drive(item) == Progress.WAITING  # attempt 1 made it worse; attempt 2 asks again
    assert len(rig.actions.calls) == 1
    assert "approved" not in rig.tracker.get_issue(item.incident).labels
    snap = rig.app.get_state(thread_config(item.incident))
    assert snap.interrupts and snap.values["attempt"] == 2


def test_approving_a_closed_or_unknown_incident_is_a_one_line_error(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    item = open_incident(rig.tracker, "user-service", "exited")
    rig.tracker.close(item.incident)
    with pytest.raises(TrackerRejected, match="is closed: nothing to approve"):
        approve(rig.tracker, item.incident)
    with pytest.raises(IssueNotFound):
        approve(rig.tracker, 999)
    other = open_incident(rig.tracker, "quote-service", "exited")
    assert "ahead of time" in approve(rig.tracker, other.incident)


def test_closing_a_waiting_incident_rejects_its_plan(tmp_path: Path) -> None:
    rig = Rig(tmp_path, approval_risk=0.1)
    item = open_incident(rig.tracker, "user-service", "exited")
    rig.drive(item)
    rig.tracker.close(item.incident)  # a person closed it instead of approving
    assert rig.drive(item) == Progress.DONE
    assert rig.actions.calls == [] and rig.state(item.incident)["outcome"] == "escalated"
    assert "jules-fix" not in rig.tracker.get_issue(item.incident).labels
