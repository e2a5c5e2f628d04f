"""Test doubles of the workflow's own seams: a recording ``Actions`` backend (our port, in process),
a fake clock for verification deadlines, work-item / incident factories, and ``Rig``: one workflow
in process on a real local tracker and real SQLite checkpoints."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agents.approval import approval_of
from agents.brain.rules import Diagnose
from agents.workflow import Progress, WorkflowDeps, build_graph, drive, open_checkpointer, thread_config
from sre_space.adapters.tracker import Tracker
from sre_space.adapters.tracker.local import LocalTracker
from sre_space.config import WorkflowSettings
from sre_space.models.events import IncidentWorkItem, WorkItemKind
from sre_space.models.incident import parse_posts
from sre_space.models.plan import ActionKind, ServiceHealth

Health = Callable[[str, int], ServiceHealth]


def healthy_after_action(service: str, performed: int) -> ServiceHealth:
    """Down until the first action on the service, healthy from then on."""
    up = performed > 0
    return ServiceHealth(service=service, instances=1, running=int(up), health=up, ready=up, restart_count=performed)


class RecordingActions:
    """An ``Actions`` backend that records every call; ``health`` scripts what observe returns."""

    kind = "recording"

    def __init__(self, health: Health = healthy_after_action) -> None:
        self.calls: list[tuple[ActionKind, str]] = []
        self.observed = 0
        self._health = health
        self._lock = threading.Lock()

    def performed(self, service: str) -> int:
        with self._lock:
            return sum(1 for _, target in self.calls if target == service)

    def observe(self, service: str) -> ServiceHealth:
        with self._lock:
            self.observed += 1
        return self._health(service, self.performed(service))

    def perform(self, action: ActionKind, target: str, params: dict[str, Any]) -> str:
        with self._lock:
            self.calls.append((action, target))
        return f"{action.value} {target} (recorded)"


class FakeClock:
    """``now`` and ``wait`` for verification: waiting moves time forward, never sleeps."""

    def __init__(self, start: float | None = None) -> None:
        self.t = time.time() if start is None else start  # deadlines hang off real audit times

    def now(self) -> float:
        return self.t

    def wait(self, seconds: float) -> None:
        self.t += seconds


def open_incident(tracker: Tracker, service: str, signal: str, severity: int = 2) -> IncidentWorkItem:
    """Open an incident the way Scout does, and the work item Scout would publish for it."""
    issue = tracker.create_issue(
        f"{service}: {signal}", "opened by the test", ["incident", f"sev:{severity}", f"service:{service}"]
    )
    return IncidentWorkItem(
        incident=issue.number, kind=WorkItemKind.OPENED, fingerprint=f"{service}:{signal}", service=service,
        signal=signal, severity=severity, time=datetime.now(UTC), summary=f"{service} {signal}",
    )


class Rig:
    """One workflow with its tracker, audit log, recording actions and checkpoints in ``home``."""

    def __init__(self, home: Path, health: Health = healthy_after_action, diagnose: Diagnose | None = None,
                 **settings: Any) -> None:
        self.home, self.tracker = home, LocalTracker(home / "tracker.db")
        self.actions, self.clock = RecordingActions(health), FakeClock()
        cfg = WorkflowSettings(**{"verify_interval_s": 1.0, "verify_timeout_s": 30.0, **settings})
        extra = {"diagnose": diagnose} if diagnose else {}
        self.deps = WorkflowDeps(self.tracker, self.actions, home, cfg, now=self.clock.now, wait=self.clock.wait,
                                 **extra)
        self.app = build_graph(self.deps, open_checkpointer(home))

    def drive(self, item: IncidentWorkItem, run: int = 1) -> Progress:
        return drive(self.app, item, run, lambda: approval_of(self.tracker, item.incident))

    def steps(self, number: int) -> list[str]:
        """The step names posted on the incident, in order (``act#before`` for audit mirrors)."""
        posts = parse_posts(self.tracker.comments(number))
        return [p.data["step"].split("/")[1] + ("#" + p.data["step"].split("#")[1] if "#" in p.data["step"] else "")
                for p in posts if "step" in p.data]

    def state(self, number: int) -> dict[str, Any]:
        return dict(self.app.get_state(thread_config(number)).values)
