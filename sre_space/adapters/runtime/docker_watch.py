"""Follows the Docker Engine's container events for one fleet (used by ``docker.py`` only).

The engine restarts crashed containers itself (restart policy), and while a restarted container
runs its ``State`` no longer shows why it died; a manual ``docker restart`` even resets
``RestartCount`` to 0. So the runtime keeps what the event stream says: every exit code, every
OOM kill, and how many times each container started.
"""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import UTC, datetime
from typing import Any

from sre_space.adapters.runtime.base import RuntimeEventKind
from sre_space.adapters.runtime.events import EventLog

LABEL_FLEET = "sre-space.fleet"
LABEL_SERVICE = "sre-space.service"
LABEL_INSTANCE = "sre-space.instance"


class EngineWatch:
    """A daemon thread reading ``/events`` for containers labelled with ``fleet``."""

    def __init__(self, client: Any, fleet: str, events: EventLog) -> None:
        self._events = events
        self._cond = threading.Condition()
        self._starts: dict[str, int] = {}
        self._restarts: dict[str, int] = {}
        self._created: set[str] = set()
        self._last_exit: dict[str, tuple[int, bool]] = {}
        self._oom_pending: set[str] = set()
        self._quiet: dict[str, RuntimeEventKind | None] = {}  # exits we caused: stop or restart
        # Subscribe from "now" with nanoseconds so nothing between here and the first read is lost.
        self._stream = client.events(
            decode=True,
            filters={"type": "container", "label": f"{LABEL_FLEET}={fleet}"},
            since=f"{time.time():.9f}",
        )
        self._thread = threading.Thread(target=self._run, name=f"sre-docker-events-{fleet}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for raw in self._stream:
                self.handle(raw)
        except Exception:  # noqa: BLE001,S110 - the stream ends when closed or when the engine goes away
            pass

    def handle(self, raw: dict[str, Any]) -> None:
        """Fold one engine event into counters and runtime events."""
        action = str(raw.get("Action") or raw.get("status") or "")
        actor = raw.get("Actor") or {}
        cid = str(actor.get("ID") or raw.get("id") or "")
        attrs = actor.get("Attributes") or {}
        service = str(attrs.get(LABEL_SERVICE, "?"))
        instance = str(attrs.get(LABEL_INSTANCE) or attrs.get("name", "?"))
        when = datetime.fromtimestamp(int(raw.get("timeNano") or time.time_ns()) / 1e9, UTC)
        with self._cond:
            if action == "create":
                self._created.add(cid)
            elif action == "start":
                # The first start of a container created under our watch is its start; any other
                # start (policy, docker restart, or of a container we adopted) is a restart.
                first = cid in self._created and cid not in self._starts
                self._starts[cid] = self._starts.get(cid, 0) + 1
                if not first:
                    self._restarts[cid] = self._restarts.get(cid, 0) + 1
                kind = RuntimeEventKind.STARTED if first else RuntimeEventKind.RESTARTED
                self._events.add(service, instance, kind, time=when)
                self._cond.notify_all()
            elif action == "oom":
                self._oom_pending.add(cid)
            elif action == "die":
                self._on_die(cid, service, instance, int(attrs.get("exitCode", -1)), when)
            elif action == "destroy":
                for table in (self._starts, self._restarts, self._last_exit, self._quiet):
                    table.pop(cid, None)
                self._oom_pending.discard(cid)
                self._created.discard(cid)

    def _on_die(self, cid: str, service: str, instance: str, code: int, when: datetime) -> None:
        oom = cid in self._oom_pending
        self._oom_pending.discard(cid)
        if cid in self._quiet:
            caused = self._quiet.pop(cid)
            if caused is not None:
                self._events.add(service, instance, caused, exit_code=code, time=when)
            return
        self._last_exit[cid] = (code, oom)
        kind = RuntimeEventKind.OOM_KILLED if oom else RuntimeEventKind.EXITED
        self._events.add(service, instance, kind, exit_code=code, time=when)

    def expect_exit(self, cid: str, kind: RuntimeEventKind | None, done: bool = False) -> None:
        """The next exit of ``cid`` is ours: record it as ``kind`` (``None``: not at all).

        ``done=True`` withdraws the expectation (the action is over; later exits are real).
        """
        with self._cond:
            if done:
                self._quiet.pop(cid, None)
            else:
                self._quiet[cid] = kind

    def starts(self, cid: str) -> int:
        with self._cond:
            return self._starts.get(cid, 0)

    def wait_started(self, cid: str, more_than: int, timeout: float = 10.0) -> bool:
        """Block until the stream has seen ``cid`` start more than ``more_than`` times."""
        with self._cond:
            return self._cond.wait_for(lambda: self._starts.get(cid, 0) > more_than, timeout)

    def restarts(self, cid: str) -> int:
        """Restarts seen on the stream (the engine's RestartCount forgets manual restarts)."""
        with self._cond:
            return self._restarts.get(cid, 0)

    def last_exit(self, cid: str) -> tuple[int, bool] | None:
        """(exit code, oom_killed) of the container's last exit that we did not cause."""
        with self._cond:
            return self._last_exit.get(cid)

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a dead stream is fine
            self._stream.close()
        self._thread.join(5)
