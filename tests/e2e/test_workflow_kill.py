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
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from kafka import KafkaProducer

from agents.fixer.actions import ControlApiActions
from agents.fixer.audit import AuditLog, AuditRecord, Outcome, Phase, idempotency_key
from agents.fixer.execute import execute
from agents.worker import ensure_topic
from agents.workflow import WorkflowDeps, build_graph, open_checkpointer, thread_config
from sre_space.adapters.tracker.local import LocalTracker
from sre_space.commands.agents import ready_file
from sre_space.config import WorkflowSettings
from sre_space.models.incident import IssueState, parse_posts
from sre_space.models.plan import ActionKind
from sre_space.net import free_port
from sre_space.stack.launcher import control
from tests.helpers import poll_until
from tests.workflow_doubles import open_incident

ROOT = Path(__file__).resolve().parents[2]


def base_env(home: Path) -> dict[str, str]:
    drop = ("GITHUB_", "KAFKA_", "SRE_")  # only what the test sets reaches the children
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    # the stack's own control plane is off: it would open its own incident for the stopped service
    # and start it a second time, racing the workers under test
    return {**env, "SRE_SPACE_HOME": str(home), "SRE_PORTS__AUTO": "true", "SRE_TRAFFIC_RATE": "0",
            "SRE_TRACKER__KIND": "local", "SRE_AGENTS": "false"}


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


class Workers:
    """``python -m agents.worker`` processes on the stack's home, with their environment."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.procs: list[subprocess.Popen[bytes]] = []
        self._files: list[IO[bytes]] = []

    @property
    def topic(self) -> str:
        return self.env["SRE_WORKFLOW__TOPIC"]

    def start(self) -> subprocess.Popen[bytes]:
        log = (self.logs / f"worker-{len(self.procs)}.log").open("wb")
        self._files.append(log)
        proc = subprocess.Popen([sys.executable, "-m", "agents.worker"], cwd=ROOT, env=self.env, stdout=log,
                                stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        for log in self._files:
            log.close()


@pytest.fixture
def workers(stack: Path, broker: str, tmp_path: Path) -> Iterator[Workers]:
    """Worker processes on a fresh topic and group; every one is stopped after the test."""
    run = uuid.uuid4().hex[:8]
    env = {
        **base_env(stack), "KAFKA_BOOTSTRAP_SERVERS": broker,
        "SRE_WORKFLOW__TOPIC": f"sre.incidents.{run}", "SRE_WORKFLOW__GROUP": f"sre-workflow-{run}",
        # verification waits for 4 healthy checks (each a /status call of ~1-3 s here, plus 0.5 s):
        # the window in which the test kills the worker
        "SRE_WORKFLOW__VERIFY_INTERVAL_S": "0.5", "SRE_WORKFLOW__VERIFY_STABLE_CHECKS": "4",
        "SRE_WORKFLOW__VERIFY_TIMEOUT_S": "120",
    }
    procs = Workers(env, tmp_path)
    yield procs
    procs.stop_all()


def service_entry(home: Path, service: str) -> dict[str, Any]:
    return next(s for s in control(home, "GET", "/status")["services"] if s["service"] == service)


def starts_since(home: Path, service: str, since: datetime) -> int:
    events = control(home, "GET", "/events")["events"]
    return sum(1 for e in events if e["service"] == service and e["kind"] in ("started", "restarted")
               and datetime.fromisoformat(e["time"]) > since)


def step_posts(tracker: LocalTracker, number: int, step: str) -> int:
    return sum(1 for p in parse_posts(tracker.comments(number)) if f"/{step}/" in str(p.data.get("step")))


def test_kill_9_mid_verify_then_restart_finishes_the_incident_once(stack: Path, broker: str, workers: Workers) -> None:
    home = stack
    # the fault: user-service is gone
    control(home, "POST", "/services/user-service/stop")
    stopped_at = datetime.now().astimezone()
    poll_until(lambda: service_entry(home, "user-service")["health"] is False, "user-service down", 30)
    tracker, audit = LocalTracker(home / "tracker.db"), AuditLog(home)
    item = open_incident(tracker, "user-service", "exited", severity=1)
    key = idempotency_key(item.incident, "act", "1.1")

    first = workers.start()
    ensure_topic(broker, workers.topic)
    producer = KafkaProducer(bootstrap_servers=broker)
    producer.send(workers.topic, key=item.key, value=item.model_dump_json().encode()).get(10)
    producer.close()

    # t1: the action ran and is checkpointed; verification is under way -> kill -9
    checkpoints = build_graph(WorkflowDeps(tracker, ControlApiActions(home), home, WorkflowSettings()),
                              open_checkpointer(home))
    poll_until(lambda: checkpoints.get_state(thread_config(item.incident)).next == ("verify",),
               "the workflow verifying the restart", 90)
    assert audit.last(key, Phase.AFTER) is not None
    assert step_posts(tracker, item.incident, "verify") == 0, "verification should still be watching"
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    issue = tracker.get_issue(item.incident)
    assert issue.state == IssueState.OPEN and "status:mitigating" in issue.labels

    # t2: a new worker resumes the run from its checkpoint and finishes it
    second = workers.start()
    poll_until(lambda: tracker.get_issue(item.incident).state == IssueState.CLOSED,
               "the incident closed by the restarted worker", 120)
    assert second.poll() is None, "the restarted worker should still be running"

    records = [r for r in audit.records() if r.incident == item.incident]
    assert [(r.key, r.phase) for r in records] == [(key, Phase.BEFORE), (key, Phase.AFTER)]
    # a stopped service is started; if the runtime still listed its instance, it is restarted
    verb, target = records[1].detail.split()[:2]
    assert records[1].outcome == Outcome.OK and verb in {"start", "restart"} and target == "user-service"
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


def test_the_control_plane_alone_serves_the_incidents_api(stack: Path, broker: str, tmp_path: Path) -> None:
    """``sre-space agents --incidents-api`` (the compose control plane): Scout, the worker and the API."""
    port = free_port()
    env = {**base_env(stack), "KAFKA_BOOTSTRAP_SERVERS": broker}
    command = [sys.executable, "-m", "sre_space.cli", "agents", "--incidents-api", f"127.0.0.1:{port}"]
    with (tmp_path / "agents.log").open("wb") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            poll_until(lambda: ready_file(stack).exists() or proc.poll() is not None, "the control plane ready", 60)
            assert proc.poll() is None, (tmp_path / "agents.log").read_text()
            opened = LocalTracker(stack / "tracker.db").create_issue("seen by the test", "", ["incident"])
            listed = httpx.get(f"http://127.0.0.1:{port}/incidents", timeout=10).json()
            assert opened.number in [i["number"] for i in listed]
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(60) == 0
    with pytest.raises(httpx.ConnectError):  # stopped with the control plane
        httpx.get(f"http://127.0.0.1:{port}/incidents", timeout=5)


def test_a_bad_incidents_api_address_is_a_one_line_error(stack: Path) -> None:
    result = cli(stack, "agents", "--incidents-api", "8091")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip() == "sre-space: --incidents-api wants HOST:PORT (e.g. 0.0.0.0:8091), got '8091'"
