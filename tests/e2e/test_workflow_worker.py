"""Workflow workers on the real (embedded tansu) broker: two workers in one consumer group split the
incidents and drive each exactly once; a waiting incident resumes on the ``approved`` label and on
``approve``; garbage on the topic is skipped. Actions go to a recording backend of our own port."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from agents.approval import approve
from agents.fixer.audit import AuditLog, Phase
from agents.worker import Worker, ensure_topic
from sre_space.adapters.tracker.local import LocalTracker
from sre_space.config import Settings, WorkflowSettings
from sre_space.models.events import IncidentWorkItem
from sre_space.models.incident import IssueState, parse_posts
from tests.helpers import poll_until
from tests.workflow_doubles import RecordingActions, open_incident

ALL_PARTITIONS = frozenset(range(4))


@pytest.fixture
def names() -> dict[str, str]:
    run = uuid.uuid4().hex[:8]  # a fresh topic and group per test: no leftovers, no wedged group
    return {"topic": f"sre.incidents.{run}", "group": f"sre-workflow-{run}"}


def settings(names: dict[str, str], **workflow: Any) -> Settings:
    cfg = {"verify_interval_s": 0.05, "verify_stable_checks": 2, "approval_poll_s": 0.2, **workflow}
    return Settings(workflow=WorkflowSettings(**names, **cfg))


@contextmanager
def running(*workers: Worker) -> Iterator[None]:
    stops = [threading.Event() for _ in workers]
    threads = [threading.Thread(target=w.run, args=(s,), daemon=True) for w, s in zip(workers, stops, strict=True)]
    for t in threads:
        t.start()
    try:
        yield
    finally:
        for stop, thread in zip(stops, threads, strict=True):  # one at a time: tansu may wedge otherwise
            stop.set()
            thread.join(30)
            assert not thread.is_alive(), "a worker did not stop"


def publish(broker: str, topic: str, items: list[IncidentWorkItem], garbage: bool = False) -> set[int]:
    """Send the work items keyed by incident (as Scout does); the partitions they landed on."""
    producer = KafkaProducer(bootstrap_servers=broker)
    try:
        if garbage:
            producer.send(topic, key=b"garbage", value=b"\x00 not a work item {")
        futures = [producer.send(topic, key=i.key, value=i.model_dump_json().encode()) for i in items]
        producer.flush()
        return {f.get(timeout=10).partition for f in futures}
    finally:
        producer.close()


def close_posts(tracker: LocalTracker, number: int) -> int:
    return sum(1 for p in parse_posts(tracker.comments(number)) if "/close/" in str(p.data.get("step")))


def test_two_workers_handle_every_incident_exactly_once(broker: str, tmp_path: Path,
                                                        names: dict[str, str]) -> None:
    tracker, actions = LocalTracker(tmp_path / "tracker.db"), RecordingActions()
    ensure_topic(broker, names["topic"])
    cfg = settings(names)
    one = Worker(cfg, tmp_path, tracker, actions, bootstrap=broker, name="one")
    two = Worker(cfg, tmp_path, LocalTracker(tmp_path / "tracker.db"), actions, bootstrap=broker, name="two")
    items = [open_incident(tracker, f"svc-{n}", "exited") for n in range(1, 13)]
    with running(one, two):
        poll_until(lambda: one.partitions and two.partitions and one.partitions | two.partitions == ALL_PARTITIONS
                   and not one.partitions & two.partitions, "both workers assigned disjoint partitions", 60)
        used = publish(broker, names["topic"], items, garbage=True)
        assert used == ALL_PARTITIONS, f"the test's keys must reach every partition, got {used}"
        poll_until(lambda: all(tracker.get_issue(i.incident).state == IssueState.CLOSED for i in items),
                   "all 12 incidents closed", 90)
        poll_until(lambda: one.stats["malformed"] + two.stats["malformed"] == 1, "the garbage was skipped", 10)

    assert sorted(target for _, target in actions.calls) == sorted(i.service for i in items)  # one action each
    after = [r for r in AuditLog(tmp_path).records() if r.phase == Phase.AFTER]
    assert sorted(r.incident for r in after) == sorted(i.incident for i in items)
    assert {r.who for r in after} == {one.owner.id, two.owner.id}  # both took part
    for item in items:
        assert close_posts(tracker, item.incident) == 1
        assert "status:resolved" in tracker.get_issue(item.incident).labels


def test_a_waiting_incident_resumes_on_the_label_and_on_the_cli(broker: str, tmp_path: Path,
                                                                names: dict[str, str]) -> None:
    tracker, actions = LocalTracker(tmp_path / "tracker.db"), RecordingActions()
    worker = Worker(settings(names, approval_risk=0.1), tmp_path, tracker, actions, bootstrap=broker)
    by_label = open_incident(tracker, "user-service", "exited")
    by_cli = open_incident(tracker, "quote-service", "oom_killed")
    with running(worker):
        publish(broker, names["topic"], [by_label, by_cli])
        for item in (by_label, by_cli):
            poll_until(lambda i=item: tracker.get_issue(i.incident).has_label("needs-approval"),
                       f"incident #{item.incident} waits for approval", 60)
        assert actions.calls == []
        tracker.add_labels(by_label.incident, ["approved"])
        approve(tracker, by_cli.incident, by="alice")
        for item in (by_label, by_cli):
            poll_until(lambda i=item: tracker.get_issue(i.incident).state == IssueState.CLOSED,
                       f"incident #{item.incident} closed after approval", 30)
    assert sorted(t for _, t in actions.calls) == ["quote-service", "user-service"]
    posts = [p.text for p in parse_posts(tracker.comments(by_cli.incident))]
    assert any("approved by alice" in text for text in posts)
