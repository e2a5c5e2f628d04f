"""``kill -9`` of the workflow worker mid-incident on a real stack (`sre-space up`): the worker
restarts a stopped service through the daemon's control API, is killed while it verifies, and a
new worker process finishes the incident exactly once: one action in the audit log, one start
in the runtime's events, one close. Also: the audit log's world check against the real runtime."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from agents.fixer.actions import ControlApiActions
from agents.fixer.audit import AuditLog, AuditRecord, Outcome, Phase, idempotency_key
from agents.fixer.execute import execute
from agents.worker import ensure_topic
from sre_space.adapters.tracker.local import LocalTracker
from sre_space.models.incident import IssueState, parse_posts
from sre_space.models.plan import ActionKind
from sre_space.stack.launcher import control
from tests.helpers import poll_until
from tests.workflow_doubles import open_incident

ROOT = Path(__file__).resolve().parents[2]


def base_env(home: Path) -> dict[str, str]:
    drop = ("GITHUB_", "KAFKA_", "SRE_")  # only what the test sets reaches the children
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    return {**env, "SRE_SPACE_HOME": str(home), "SRE_PORTS__AUTO": "true", "SRE_TRAFFIC_RATE": "0",
            "SRE_TRACKER__KIND": "local"}


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sre_space.cli", *args], cwd=ROOT, env=base_env(home),
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("wfstack")
    up = cli(home, "up")
    assert up.returncode == 0, up.stdout + up.stderr
    yield home
    cli(home, "down")


@pytest.fixture
def start_worker(stack: Path, broker: str, tmp_path: Path) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """Start ``python -m agents.worker`` processes on the stack's home; every one is stopped after."""
    run = uuid.uuid4().hex[:8]
    env = {
        **base_env(stack), "KAFKA_BOOTSTRAP_SERVERS": broker,
        "SRE_WORKFLOW__TOPIC": f"sre.incidents.{run}", "SRE_WORKFLOW__GROUP": f"sre-workflow-{run}",
        # verification watches for 16 healthy checks (~8 s): a window in which to kill the worker
        "SRE_WORKFLOW__VERIFY_INTERVAL_S": "0.5", "SRE_WORKFLOW__VERIFY_STABLE_CHECKS": "16",
        "SRE_WORKFLOW__VERIFY_TIMEOUT_S": "120",
    }
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        log = (tmp_path / f"worker-{len(procs)}.log").open("wb")
        proc = subprocess.Popen([sys.executable, "-m", "agents.worker"], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        procs.append(proc)
        return proc

    start.env = env  # type: ignore[attr-defined]
    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def service_entry(home: Path, service: str) -> dict[str, Any]:
    return next(s for s in control(home, "GET", "/status")["services"] if s["service"] == service)


def starts_since(home: Path, service: str, since: datetime) -> int:
    events = control(home, "GET", "/events")["events"]
    return sum(1 for e in events if e["service"] == service and e["kind"] in ("started", "restarted")
               and datetime.fromisoformat(e["time"]) > since)


def step_posts(tracker: LocalTracker, number: int, step: str) -> int:
    return sum(1 for p in parse_posts(tracker.comments(number)) if f"/{step}/" in str(p.data.get("step")))


def test_kill_9_mid_verify_then_restart_finishes_the_incident_once(
    stack: Path, broker: str, start_worker: Callable[[], subprocess.Popen[bytes]]
) -> None:
    home, env = stack, start_worker.env  # type: ignore[attr-defined]
    # the fault: user-service is gone
    control(home, "POST", "/services/user-service/stop")
    stopped_at = datetime.now().astimezone()
    poll_until(lambda: service_entry(home, "user-service")["health"] is False, "user-service down", 30)
    tracker, audit = LocalTracker(home / "tracker.db"), AuditLog(home)
    item = open_incident(tracker, "user-service", "exited", severity=1)
    key = idempotency_key(item.incident, "act", "1.1")

    first = start_worker()
    ensure_topic(broker, env["SRE_WORKFLOW__TOPIC"])
    producer = KafkaProducer(bootstrap_servers=broker)
    producer.send(env["SRE_WORKFLOW__TOPIC"], key=item.key, value=item.model_dump_json().encode()).get(10)
    producer.close()

    # t1: the action ran and verification is under way -> kill -9
    poll_until(lambda: audit.last(key, Phase.AFTER), "the restart recorded in the audit log", 90)
    assert step_posts(tracker, item.incident, "verify") == 0, "verification should still be watching"
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    issue = tracker.get_issue(item.incident)
    assert issue.state == IssueState.OPEN and "status:mitigating" in issue.labels

    # t2: a new worker resumes the run from its checkpoint and finishes it
    second = start_worker()
    poll_until(lambda: tracker.get_issue(item.incident).state == IssueState.CLOSED,
               "the incident closed by the restarted worker", 120)
    assert second.poll() is None, "the restarted worker should still be running"

    records = [r for r in audit.records() if r.incident == item.incident]
    assert [(r.key, r.phase) for r in records] == [(key, Phase.BEFORE), (key, Phase.AFTER)]
    assert records[1].outcome == Outcome.OK and records[1].detail.startswith("start user-service")
    assert starts_since(home, "user-service", stopped_at) == 1  # the runtime saw one start, not two
    assert step_posts(tracker, item.incident, "close") == 1
    assert step_posts(tracker, item.incident, "verify") == 1
    assert "status:resolved" in tracker.get_issue(item.incident).labels
    assert service_entry(home, "user-service")["health"] is True


class CountingActions(ControlApiActions):
    def __init__(self, home: Path) -> None:
        super().__init__(home)
        self.performed = 0

    def perform(self, action: ActionKind, target: str, params: dict[str, Any]) -> str:
        self.performed += 1
        return super().perform(action, target, params)


def test_the_world_check_sees_a_restart_done_before_a_crash(stack: Path, tmp_path: Path) -> None:
    actions, audit = CountingActions(stack), AuditLog(tmp_path)
    key = idempotency_key(999, "act", "1.1")
    seen = actions.observe("quote-service")
    audit.append(AuditRecord(key=key, phase=Phase.BEFORE, incident=999, what="restart quote-service", who="dead",
                             world=seen.model_dump(mode="json")))
    control(stack, "POST", "/services/quote-service/restart")  # the action ran; its process died before "after"
    rec = execute(key=key, incident=999, action=ActionKind.RESTART, target="quote-service", why="test",
                  who="test", actions=actions, audit=audit)
    assert rec.outcome == Outcome.FOUND_DONE and actions.performed == 0
    assert actions.observe("quote-service").restart_count == seen.restart_count + 1
