"""The workflow graph end to end in process: a real local tracker and SQLite checkpoints in a temp
dir, a recording ``Actions`` backend, a fake clock. Checks the paths through the graph, the posts
and labels on the incident, and that a run cut by an exception resumes without repeating."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.fixer.audit import AuditLog, Phase
from agents.timeline import rebuild
from agents.workflow import Progress, thread_config
from sre_space.models.diagnosis import Diagnosis
from sre_space.models.events import IncidentWorkItem
from sre_space.models.incident import IssueState
from sre_space.models.plan import ActionKind, ServiceHealth
from tests.workflow_doubles import Rig, healthy_after_action, open_incident


def test_a_crash_is_restarted_verified_learned_and_closed(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    item = open_incident(rig.tracker, "user-service", "exited")
    assert rig.drive(item) == Progress.DONE
    assert rig.actions.calls == [(ActionKind.RESTART, "user-service")]
    issue = rig.tracker.get_issue(item.incident)
    assert issue.state == IssueState.CLOSED
    assert "status:resolved" in issue.labels and not any(lb.startswith("status:") and lb != "status:resolved"
                                                          for lb in issue.labels)
    assert rig.steps(item.incident) == [
        "recall", "diagnose", "plan", "act#before", "act#after", "verify", "learn", "close",
    ]
    final = rig.state(item.incident)
    assert final["outcome"] == "resolved" and final["verdict"] == "mitigated"
    # the tracker alone tells the same story as the checkpoint
    rebuilt = rebuild(rig.tracker, item.incident)
    for field in ("outcome", "verdict", "plan", "diagnosis", "attempt", "action"):
        assert rebuilt[field] == final[field], field
    assert (tmp_path / "memory" / "outcomes.jsonl").read_text().count('"outcome": "resolved"') == 1


def test_a_second_drive_of_a_finished_run_does_nothing(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    item = open_incident(rig.tracker, "user-service", "oom_killed")
    rig.drive(item)
    comments = len(rig.tracker.comments(item.incident))
    assert rig.drive(item) == Progress.DONE
    assert len(rig.actions.calls) == 1 and len(rig.tracker.comments(item.incident)) == comments


def test_no_automatic_remedy_escalates_and_stays_open(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    item = open_incident(rig.tracker, "quote-service", "p95_latency")
    assert rig.drive(item) == Progress.DONE
    assert rig.actions.calls == []
    issue = rig.tracker.get_issue(item.incident)
    assert issue.state == IssueState.OPEN and "jules-fix" in issue.labels and "status:diagnosed" in issue.labels
    assert rig.steps(item.incident) == ["recall", "diagnose", "plan", "escalate", "learn"]


def test_still_down_after_the_restart_escalates(tmp_path: Path) -> None:
    rig = Rig(tmp_path, health=lambda s, n: ServiceHealth(service=s, instances=1, running=0))
    item = open_incident(rig.tracker, "user-service", "exited")
    rig.drive(item)
    assert len(rig.actions.calls) == 1
    assert rig.state(item.incident)["verdict"] == "unchanged"
    assert "jules-fix" in rig.tracker.get_issue(item.incident).labels
    assert "still unhealthy" in rig.state(item.incident)["reason"]


def test_worse_is_undone_and_planned_again_then_no_better_escalates(tmp_path: Path) -> None:
    def worse_after(service: str, performed: int) -> ServiceHealth:
        if performed == 0:  # half up before: running, healthy, not ready
            return ServiceHealth(service=service, instances=1, running=1, health=True, ready=False)
        return ServiceHealth(service=service, instances=1, running=0, health=False, ready=False)

    rig = Rig(tmp_path, health=worse_after, max_attempts=2)
    item = open_incident(rig.tracker, "user-service", "exited")
    rig.drive(item)
    assert len(rig.actions.calls) == 2
    # attempt 1 made it worse (undo, plan again); attempt 2 left it as down as it found it
    assert rig.steps(item.incident) == [
        "recall", "diagnose",
        "plan", "act#before", "act#after", "verify", "undo",
        "plan", "act#before", "act#after", "verify", "escalate", "learn",
    ]
    keys = {r.key for r in AuditLog(tmp_path).records() if r.phase == Phase.AFTER}
    assert keys == {f"incident-{item.incident}/act/1.1", f"incident-{item.incident}/act/1.2"}


def test_the_injected_diagnosis_decides_and_a_failing_one_escalates(tmp_path: Path) -> None:
    def broken(item: IncidentWorkItem) -> Diagnosis:
        raise RuntimeError("engine exploded")

    rig = Rig(tmp_path, diagnose=broken)
    item = open_incident(rig.tracker, "user-service", "exited")
    rig.drive(item)
    assert rig.actions.calls == []
    assert "diagnosis failed: engine exploded" in rig.state(item.incident)["diagnosis"]["summary"]
    assert "jules-fix" in rig.tracker.get_issue(item.incident).labels


def test_a_run_cut_during_verify_resumes_without_acting_again(tmp_path: Path) -> None:
    observed = {"n": 0}

    def flaky(service: str, performed: int) -> ServiceHealth:
        observed["n"] += 1
        if performed and observed["n"] == 4:  # the process "dies" in the middle of verify
            raise KeyboardInterrupt("kill")
        return healthy_after_action(service, performed)

    rig = Rig(tmp_path, health=flaky)
    item = open_incident(rig.tracker, "user-service", "exited")
    with pytest.raises(KeyboardInterrupt):
        rig.drive(item)
    assert rig.app.get_state(thread_config(item.incident)).next == ("verify",)
    # a new process: fresh graph and checkpointer on the same home
    again = Rig(tmp_path, health=flaky)
    again.actions.calls = list(rig.actions.calls)
    assert again.drive(item) == Progress.DONE
    assert len(again.actions.calls) == 1
    assert again.steps(item.incident).count("close") == 1
    assert sum(r.phase == Phase.AFTER for r in AuditLog(tmp_path).records()) == 1


def test_a_reopened_incident_gets_a_second_run_with_new_keys(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    item = open_incident(rig.tracker, "user-service", "exited")
    rig.drive(item)
    rig.tracker.reopen(item.incident)
    rig.actions.calls.clear()  # the service crashed again: down until acted on
    assert rig.drive(item, run=2) == Progress.DONE
    assert len(rig.actions.calls) == 1
    assert rig.tracker.get_issue(item.incident).state == IssueState.CLOSED
    keys = [r.key for r in AuditLog(tmp_path).records() if r.phase == Phase.AFTER]
    assert keys == [f"incident-{item.incident}/act/1.1", f"incident-{item.incident}/act/2.1"]


def test_attempts_running_out_escalates_from_plan(tmp_path: Path) -> None:
    def each_worse(service: str, performed: int) -> ServiceHealth:
        # score 2 → 1 → 0: every restart leaves the service worse than it found it
        running, health = (1, True) if performed == 0 else (1, False) if performed == 1 else (0, False)
        return ServiceHealth(service=service, instances=1, running=running, health=health, ready=False)

    rig = Rig(tmp_path, health=each_worse, max_attempts=2)
    item = open_incident(rig.tracker, "user-service", "exited")
    rig.drive(item)
    assert len(rig.actions.calls) == 2
    assert rig.steps(item.incident)[-4:] == ["undo", "plan", "escalate", "learn"]
    assert rig.state(item.incident)["reason"] == "2 attempt(s) did not mitigate it"
