"""A persistent, ordered outbox of tracker writes (a SQLite file in the state directory).

Every issue write of the GitHub backend is appended here first and then replayed in order, so a
write that cannot reach GitHub waits instead of being lost, and writes never overtake each other.
A new issue gets a provisional negative number (``-entry id``) until its replay assigns the real
one; later entries that name it are translated through ``numbers``. Entries that GitHub rejects
move to ``dead`` with the reason (they could never succeed); outcomes stay in ``results`` for a
day so that the writer (or another process that replayed its entry) can read them.

Several processes may share the file: appends are short transactions, and replays are serialised
by an exclusive ``flock`` on a lock file beside it, so an entry is never replayed twice at once.
"""

from __future__ import annotations

import fcntl
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from sre_space.adapters.tracker.base import TrackerUnavailable

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
  id INTEGER PRIMARY KEY AUTOINCREMENT, op TEXT NOT NULL, args TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS numbers (provisional INTEGER PRIMARY KEY, real INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS results (id INTEGER PRIMARY KEY, outcome TEXT NOT NULL, done_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS dead (
  id INTEGER PRIMARY KEY, op TEXT NOT NULL, args TEXT NOT NULL, error TEXT NOT NULL, failed_at TEXT NOT NULL
);
"""
_KEEP_RESULTS = timedelta(days=1)


class OutboxEntry(BaseModel):
    """One queued write: the operation's name and its JSON arguments."""

    model_config = ConfigDict(frozen=True)

    id: int
    op: str
    args: dict[str, Any]
    attempts: int
    created_at: datetime


class DeadEntry(BaseModel):
    """A queued write the tracker rejected, kept with the reason for a person to look at."""

    model_config = ConfigDict(frozen=True)

    id: int
    op: str
    args: dict[str, Any]
    error: str
    failed_at: datetime


class Outbox:
    """The outbox file (see the module docstring)."""

    def __init__(self, path: Path, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.path = Path(path)
        self._clock = clock
        self._thread_lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(f"BEGIN IMMEDIATE;{_SCHEMA}COMMIT;")

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        try:
            db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise TrackerUnavailable(f"cannot open the outbox {self.path}: {exc}") from exc
        try:
            yield db
        except sqlite3.Error as exc:
            raise TrackerUnavailable(f"outbox {self.path}: {exc}") from exc
        finally:
            db.close()

    def _now(self) -> str:
        return self._clock().astimezone(UTC).isoformat()

    def append(self, op: str, args: dict[str, Any]) -> int:
        """Queue a write; its id orders it after every earlier one."""
        with self._db() as db:
            cur = db.execute(
                "INSERT INTO entries (op, args, created_at) VALUES (?, ?, ?)", (op, json.dumps(args), self._now())
            )
            return int(cur.lastrowid or 0)

    def pending(self) -> list[OutboxEntry]:
        with self._db() as db:
            rows = db.execute("SELECT id, op, args, attempts, created_at FROM entries ORDER BY id").fetchall()
        return [
            OutboxEntry(id=i, op=op, args=json.loads(a), attempts=n, created_at=datetime.fromisoformat(t))
            for i, op, a, n, t in rows
        ]

    def count(self) -> int:
        with self._db() as db:
            return int(db.execute("SELECT COUNT(*) FROM entries").fetchone()[0])

    def mark_attempt(self, entry_id: int) -> None:
        """Recorded before each try, so a replay after a crash or a lost answer knows to look for
        an earlier copy before writing again."""
        with self._db() as db:
            db.execute("UPDATE entries SET attempts = attempts + 1 WHERE id = ?", (entry_id,))

    def complete(self, entry_id: int, result: Any, *, number: tuple[int, int] | None = None) -> None:
        """The entry reached the tracker: drop it, keep its result (and a provisional→real number)."""
        now = self._now()
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            if number is not None:
                db.execute("INSERT OR REPLACE INTO numbers (provisional, real) VALUES (?, ?)", number)
            db.execute("DELETE FROM entries WHERE id = ?", (entry_id,))
            db.execute("INSERT OR REPLACE INTO results VALUES (?, ?, ?)", (entry_id, json.dumps({"ok": result}), now))
            db.execute(
                "DELETE FROM results WHERE done_at < ?", ((self._clock() - _KEEP_RESULTS).astimezone(UTC).isoformat(),)
            )
            db.execute("COMMIT")

    def fail(self, entry: OutboxEntry, error: str, kind: str, *, keep: bool = True) -> None:
        """The tracker rejected the entry for good: drop it, keep the error as its result and,
        unless its writer is there to hear it (``keep=False``), the entry in ``dead``."""
        now = self._now()
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM entries WHERE id = ?", (entry.id,))
            if keep:
                db.execute(
                    "INSERT OR REPLACE INTO dead VALUES (?, ?, ?, ?, ?)",
                    (entry.id, entry.op, json.dumps(entry.args), error, now),
                )
            outcome = json.dumps({"error": error, "kind": kind})
            db.execute("INSERT OR REPLACE INTO results VALUES (?, ?, ?)", (entry.id, outcome, now))
            db.execute("COMMIT")

    def result(self, entry_id: int) -> dict[str, Any] | None:
        """``{"ok": value}`` or ``{"error": text, "kind": ...}`` once the entry is done, else None."""
        with self._db() as db:
            row = db.execute("SELECT outcome FROM results WHERE id = ?", (entry_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def real_number(self, number: int) -> int | None:
        """The tracker's number for ``number``: itself when real, None while still provisional."""
        if number > 0:
            return number
        with self._db() as db:
            row = db.execute("SELECT real FROM numbers WHERE provisional = ?", (number,)).fetchone()
        return int(row[0]) if row else None

    def dead(self) -> list[DeadEntry]:
        with self._db() as db:
            rows = db.execute("SELECT id, op, args, error, failed_at FROM dead ORDER BY id").fetchall()
        return [
            DeadEntry(id=i, op=op, args=json.loads(a), error=e, failed_at=datetime.fromisoformat(t))
            for i, op, a, e, t in rows
        ]

    @contextmanager
    def replaying(self) -> Iterator[None]:
        """Hold the one replay slot (threads of this process and other processes alike)."""
        with self._thread_lock, open(self.path.with_suffix(".lock"), "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
