"""The whole pipeline with the incident desk on a real (SQLite) tracker, driven by an injected
clock: timelines of checks in, incidents, labels, counters and work items out."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from agents.scout.book import IncidentBook
from agents.scout.incidents import IncidentDesk
from agents.scout.pipeline import Pipeline
from agents.scout.publish import WorkPublisher
from agents.scout.symptoms import Check, Clear, Detector, Symptom
from sre_space.adapters.tracker.base import TrackerUnavailable
from sre_space.adapters.tracker.local import LocalTracker
from sre_space.models.events import WorkItemKind
from sre_space.models.incident import Issue, fingerprint_label, parse_post
from sre_space.models.scout import ScoutSettings
from tests.unit.scout_helpers import FLEET, T0, TOPOLOGY, clear, sym


class HeldPublisher(WorkPublisher):
    """Keeps work items in its queue instead of sending them (Kafka is covered end to end)."""

    def __init__(self) -> None:
        super().__init__(lambda: None)

    def flush(self) -> int:
        return 0


class FlakyTracker(LocalTracker):
    """The local tracker, unreachable while ``down`` is set."""

    down = False

    def __getattribute__(self, name: str) -> Any:
        if name in {"create_issue", "update", "comment", "close", "reopen", "add_labels", "list_issues"} and \
                object.__getattribute__(self, "down"):
            raise TrackerUnavailable("tracker down (test)")
        return object.__getattribute__(self, name)


class Harness:
    def __init__(self, tracker: LocalTracker, cfg: ScoutSettings | None = None) -> None:
        self.tracker, self.now = tracker, T0
        self.book = IncidentBook()
        self.pipeline = Pipeline(cfg or ScoutSettings(), self.book, lambda: TOPOLOGY, lambda: set(FLEET))
        self.publisher = HeldPublisher()
        self.desk = IncidentDesk(tracker, self.book, self.publisher, lambda: self.now)

    def check(self, symptoms: Sequence[tuple[str, str]] = (), clears: Sequence[tuple[str, str]] = (),
              advance: float = 1.0, severity: int = 2) -> None:
        """One round of checks ``advance`` seconds after the previous one."""
        self.now += advance
        found: list[Symptom] = [sym(s, g, at=self.now, severity=severity) for s, g in symptoms]
        ok: list[Clear] = [clear(s, g, at=self.now) for s, g in clears]
        self.pipeline.process(Check(detector=Detector.HEALTH, at=self.now, symptoms=found, clears=ok))
        self.pipeline.tick(self.now)
        self.desk.submit(self.pipeline.drain())

    def issues(self, state: str = "all") -> list[Issue]:
        return self.tracker.list_issues(state, ["incident"])  # type: ignore[arg-type]

    def work(self) -> list[tuple[int, WorkItemKind, str]]:
        return [(w.incident, w.kind, w.fingerprint) for w in self.publisher.queue]


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    return Harness(LocalTracker(tmp_path / "tracker.db"))


def data(issue: Issue) -> dict[str, Any]:
    post = parse_post(issue.body)
    assert post is not None and post.agent == "scout"
    return post.data


def test_100_repeats_are_one_incident_with_a_counter(harness: Harness) -> None:
    for _ in range(100):
        harness.check([("user-service", "down")])
    harness.check([], advance=61)  # past the comment throttle: the counter reaches the tracker
    [issue] = harness.issues()
    assert data(issue)["count"] == 100
    assert {"incident", "sev:2", "service:user-service", fingerprint_label("user-service:down")} <= set(issue.labels)
    assert len(harness.tracker.comments(issue.number)) <= 3  # one per minute at most, not one per repeat
    assert harness.work() == [(issue.number, WorkItemKind.OPENED, "user-service:down")]


def test_crash_timeline_one_incident_then_auto_resolved(harness: Harness) -> None:
    # t0: user-service stops; its callers feel it
    harness.check([("user-service", "down"), ("quote-service", "not_ready"), ("policy-service", "not_ready")])
    harness.check([("user-service", "down"), ("quote-service", "not_ready"), ("frontend", "error_ratio")])
    [issue] = harness.issues("open")
    assert "service:user-service" in issue.labels
    # it comes back: three healthy checks later the incident is resolved
    healthy = [("user-service", "down"), ("quote-service", "not_ready"), ("policy-service", "not_ready"),
               ("frontend", "error_ratio")]
    for n in range(3):
        assert harness.issues("open"), f"resolved too early, after {n} healthy checks"
        harness.check(clears=healthy)
    [issue] = harness.issues("closed")
    assert {"status:resolved", "service:user-service"} <= set(issue.labels)
    assert data(harness.tracker.get_issue(issue.number))["state"] == "resolved"
    assert [k for _, k, _ in harness.work()] == [WorkItemKind.OPENED, WorkItemKind.RESOLVED]


def test_a_recurrence_reopens_and_counts(harness: Harness) -> None:
    harness.check([("quote-service", "oom_killed")])
    for _ in range(3):
        harness.check(clears=[("quote-service", "oom_killed")])
    harness.check([("quote-service", "oom_killed")], advance=120)
    [issue] = harness.issues("open")
    assert "recurring" in issue.labels and data(issue)["recurrences"] == 1
    assert [k for _, k, _ in harness.work()] == [WorkItemKind.OPENED, WorkItemKind.RESOLVED, WorkItemKind.REOPENED]
    assert any("Recurrence #1" in c.body for c in harness.tracker.comments(issue.number))


def test_flapping_keeps_one_incident_open(harness: Harness) -> None:
    for _ in range(6):  # down one check, up the next: never three healthy checks in a row
        harness.check([("quote-service", "down")])
        harness.check(clears=[("quote-service", "down")])
    for _ in range(3):
        harness.check(clears=[("quote-service", "down")])
    [issue] = harness.issues()
    assert issue.state.value == "open" and data(issue)["flapping"] is True
    harness.check(clears=[("quote-service", "down")], advance=301)  # calm for the flap window
    assert harness.issues("closed")


def test_tracker_outage_loses_nothing(tmp_path: Path) -> None:
    tracker = FlakyTracker(tmp_path / "tracker.db")
    harness = Harness(tracker)
    tracker.down = True
    harness.check([("user-service", "down")])
    harness.check([("user-service", "down"), ("quote-service", "not_ready")])
    assert len(harness.desk.queue) >= 1 and not harness.work()
    tracker.down = False
    harness.check([("user-service", "down")])
    [issue] = harness.issues()
    assert {"user-service:down", "quote-service:not_ready"} <= set(data(issue)["fingerprints"])
    assert harness.work()[0][:2] == (issue.number, WorkItemKind.OPENED)


def test_a_new_leader_rebuilds_from_the_tracker(harness: Harness) -> None:
    harness.check([("user-service", "down")])
    successor = Harness(harness.tracker)
    successor.now = harness.now
    successor.pipeline.adopt(successor.desk.rebuild(successor.now, 1800), successor.now)
    successor.check([("user-service", "down")])
    assert len(successor.issues()) == 1  # the repeat went to the existing incident
    successor.check(advance=200)  # no detector reports it any more: resolved as stale
    assert successor.issues("closed")


def test_unknown_service_opens_nothing(harness: Harness) -> None:
    harness.check([("billing", "down")])
    assert harness.issues() == [] and harness.pipeline.fingerprint.unknown == {"billing": 1}
