"""The workers' durable inbox and lock rows: ``<home>/workflow.db``, one row per incident.

A work item read from Kafka is written here before its offset is committed, so no incident is
lost between the topic and the workflow. A row is driven only by the worker that holds its lease
(the lock row), taken in one ``BEGIN IMMEDIATE`` transaction: the Kafka partition decides which
worker looks at an incident, and the lease makes sure that even during a rebalance two workers
never drive the same incident at once. A lease is free when released, expired (not renewed for
``ttl``), or held by a dead process on this host (``kill -9``).
"""

from __future__ import annotations

import enum
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sre_space.models.events import IncidentWorkItem, WorkItemKind

RUNS_DB = "workflow.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
  incident    INTEGER PRIMARY KEY,
  part        INTEGER NOT NULL,
  run         INTEGER NOT NULL DEFAULT 1,
  item        TEXT NOT NULL,
  state       TEXT NOT NULL DEFAULT 'pending',
  owner       TEXT,
  owner_host  TEXT,
  owner_pid   INTEGER,
  lease_until REAL NOT NULL DEFAULT 0,
  not_before  REAL NOT NULL DEFAULT 0,
  updated     REAL NOT NULL
)
"""


class RunState(enum.StrEnum):
    PENDING = "pending"  # to start or to resume
    WAITING = "waiting"  # interrupted for approval; checked every approval_poll_s
    DONE = "done"


@dataclass(frozen=True)
class Owner:
    """Who holds a lease: a unique id plus the host and pid that tell a dead holder."""

    id: str
    host: str
    pid: int

    @classmethod
    def here(cls, name: str = "worker") -> Owner:
        host, pid = socket.gethostname(), os.getpid()
        return cls(f"{name}@{host}/{pid}/{uuid.uuid4().hex[:6]}", host, pid)


@dataclass(frozen=True)
class RunRow:
    incident: int
    partition: int
    run: int
    item: IncidentWorkItem
    state: RunState


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunStore:
    """The ``runs`` table; every method is one short transaction (safe across processes)."""

    def __init__(self, path: Path, now: Callable[[], float] = time.time) -> None:
        self.path = path
        self._now = now
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._tx() as db:
            db.execute(_SCHEMA)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()

    def register(self, item: IncidentWorkItem, partition: int) -> bool:
        """Record a work item; True when it gives the incident something (new) to do."""
        now = float(self._now())
        with self._tx() as db:
            row = db.execute("SELECT state FROM runs WHERE incident = ?", (item.incident,)).fetchone()
            if row is None:
                if item.kind == WorkItemKind.RESOLVED:
                    return False
                db.execute(
                    "INSERT INTO runs (incident, part, item, updated) VALUES (?, ?, ?, ?)",
                    (item.incident, partition, item.model_dump_json(), now),
                )
                return True
            if item.kind == WorkItemKind.REOPENED and row[0] == RunState.DONE:
                db.execute(
                    "UPDATE runs SET run = run + 1, item = ?, part = ?, state = 'pending', not_before = 0, updated = ? "
                    "WHERE incident = ?",
                    (item.model_dump_json(), partition, now, item.incident),
                )
                return True
            return False  # repeats while a run is under way: Scout counts them on the incident

    def runnable(self, partitions: Iterable[int]) -> list[RunRow]:
        """Pending or waiting rows of ``partitions`` whose retry time has come, oldest first."""
        parts = sorted(set(partitions))
        if not parts:
            return []
        marks = ",".join("?" * len(parts))
        with self._tx() as db:
            rows = db.execute(
                f"SELECT incident, part, run, item, state FROM runs WHERE state != 'done' AND part IN ({marks}) "
                "AND not_before <= ? ORDER BY incident",
                (*parts, float(self._now())),
            ).fetchall()
        return [RunRow(i, p, r, IncidentWorkItem.model_validate_json(it), RunState(st)) for i, p, r, it, st in rows]

    def acquire(self, incident: int, owner: Owner, ttl: float) -> bool:
        """Take the lease of ``incident`` unless a live holder has it."""
        now = float(self._now())
        with self._tx() as db:
            row = db.execute(
                "SELECT owner, owner_host, owner_pid, lease_until FROM runs WHERE incident = ?", (incident,)
            ).fetchone()
            if row is None:
                return False
            holder, host, pid, until = row
            dead = host == owner.host and pid is not None and pid != owner.pid and not _pid_alive(pid)
            if holder not in (None, owner.id) and until > now and not dead:
                return False
            db.execute(
                "UPDATE runs SET owner = ?, owner_host = ?, owner_pid = ?, lease_until = ?, updated = ? "
                "WHERE incident = ?",
                (owner.id, owner.host, owner.pid, now + ttl, now, incident),
            )
            return True

    def renew(self, incidents: Iterable[int], owner: Owner, ttl: float) -> None:
        now = float(self._now())
        with self._tx() as db:
            for incident in incidents:
                db.execute(
                    "UPDATE runs SET lease_until = ? WHERE incident = ? AND owner = ?", (now + ttl, incident, owner.id)
                )

    def release(self, incident: int, owner: Owner, state: RunState, run: int, retry_in: float = 0.0) -> None:
        """Give the lease back, recording where run ``run`` stands and when to look at it again (a
        run registered meanwhile by a reopen keeps the row pending)."""
        now = float(self._now())
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET owner = NULL, owner_host = NULL, owner_pid = NULL, lease_until = 0, "
                "state = CASE WHEN run > ? THEN 'pending' ELSE ? END, not_before = ?, updated = ? "
                "WHERE incident = ? AND owner = ?",
                (run, state.value, now + retry_in, now, incident, owner.id),
            )

    def get(self, incident: int) -> RunRow | None:
        with self._tx() as db:
            row = db.execute(
                "SELECT incident, part, run, item, state FROM runs WHERE incident = ?", (incident,)
            ).fetchone()
        if row is None:
            return None
        i, p, r, it, st = row
        return RunRow(i, p, r, IncidentWorkItem.model_validate_json(it), RunState(st))
