"""Scout's own state, independent of the tracker: one SQLite file (``<home>/scout/state.db``)
shared by every Scout process on the host.

Why a shared file: business SLIs are ratios over *all* partitions, but a consumer group gives each
Scout process only some of them. So each process counts the events of the partitions it owns
into per-second buckets here, and the one leader (``LeaderLock``) evaluates the SLIs over the
sum. Every event must count exactly once, across rebalances and crashes:

- a batch's counts and the partition's next offset are written in one transaction, and a
  partition's position is taken from here (not from Kafka's committed offset) when it is
  assigned: a crash before the commit loses the batch *and* its offset, so it is read again;
- the write is a compare-and-set on the stored offset: a member that lost the partition (a
  zombie after a session timeout) finds the stored offset ahead of its batch and its counts are
  dropped (``fenced``) instead of counted twice;
- positions belong to one incarnation of a topic (its topic id): when the id changes (a broker
  that restarted empty and had the topic created again), they start again at 0.

Kafka's committed offsets are still updated (best effort) so that lag tools see Scout's group.
"""

from __future__ import annotations

import fcntl
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from sre_space.errors import BackendUnavailable

_SCHEMA = """
CREATE TABLE IF NOT EXISTS event_counts (
  topic TEXT NOT NULL, bucket INTEGER NOT NULL, type TEXT NOT NULL, n INTEGER NOT NULL,
  PRIMARY KEY (topic, bucket, type)
);
CREATE INDEX IF NOT EXISTS event_counts_by_bucket ON event_counts(bucket);
CREATE TABLE IF NOT EXISTS offsets (
  grp TEXT NOT NULL, topic TEXT NOT NULL, part INTEGER NOT NULL, next_offset INTEGER NOT NULL,
  evaluated INTEGER NOT NULL DEFAULT 0, skipped INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (grp, topic, part)
);
CREATE TABLE IF NOT EXISTS highwater (
  topic TEXT NOT NULL, part INTEGER NOT NULL, hw INTEGER NOT NULL, at REAL NOT NULL, position INTEGER,
  PRIMARY KEY (topic, part)
);
CREATE TABLE IF NOT EXISTS topic_ids (grp TEXT NOT NULL, topic TEXT NOT NULL, topic_id TEXT NOT NULL,
  PRIMARY KEY (grp, topic));
CREATE TABLE IF NOT EXISTS slo_samples (slo TEXT NOT NULL, at REAL NOT NULL, good REAL NOT NULL, total REAL NOT NULL);
CREATE INDEX IF NOT EXISTS slo_samples_by_time ON slo_samples(slo, at);
"""


@dataclass
class PartitionTally:
    """What one batch found in one partition: offsets covered and counts per (bucket, type)."""

    first: int
    next: int
    counts: dict[tuple[int, str], int] = field(default_factory=dict)
    evaluated: int = 0
    skipped: int = 0


Partition = tuple[str, int]


class ScoutState:
    """The shared state file (see the module docstring); one connection per thread."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._db().executescript(_SCHEMA)  # IF NOT EXISTS everywhere: safe for several processes

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise BackendUnavailable(f"Scout state {self.path}: {exc}") from exc
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # --- ingest side

    def positions(self, group: str, partitions: Iterable[Partition]) -> dict[Partition, int]:
        """Stored next offsets of the given partitions (those never counted are absent)."""
        db = self._db()
        found = {}
        for topic, part in partitions:
            row = db.execute("SELECT next_offset FROM offsets WHERE grp=? AND topic=? AND part=?",
                             (group, topic, part)).fetchone()
            if row is not None:
                found[(topic, part)] = int(row[0])
        return found

    def record(
        self, group: str, tallies: Mapping[Partition, PartitionTally], highwaters: Mapping[Partition, int], at: float
    ) -> list[Partition]:
        """Count a batch, partition by partition, if this member still owns each; returns the
        partitions that were fenced off (their counts dropped)."""
        fenced = []
        with self._tx() as db:
            for (topic, part), tally in tallies.items():
                row = db.execute("SELECT next_offset FROM offsets WHERE grp=? AND topic=? AND part=?",
                                 (group, topic, part)).fetchone()
                if row is not None and int(row[0]) > tally.first:
                    fenced.append((topic, part))
                    continue
                db.execute(
                    "INSERT INTO offsets (grp, topic, part, next_offset, evaluated, skipped) VALUES (?,?,?,?,?,?)"
                    " ON CONFLICT (grp, topic, part) DO UPDATE SET next_offset=excluded.next_offset,"
                    " evaluated=evaluated+excluded.evaluated, skipped=skipped+excluded.skipped",
                    (group, topic, part, tally.next, tally.evaluated, tally.skipped),
                )
                db.executemany(
                    "INSERT INTO event_counts VALUES (?,?,?,?) ON CONFLICT (topic, bucket, type)"
                    " DO UPDATE SET n = n + excluded.n",
                    [(topic, bucket, etype, n) for (bucket, etype), n in tally.counts.items()],
                )
            db.executemany(
                "INSERT INTO highwater VALUES (?,?,?,?,?) ON CONFLICT (topic, part) DO UPDATE SET hw=excluded.hw,"
                " at=excluded.at, position=COALESCE(excluded.position, position)",
                [(topic, part, hw, at, tallies[(topic, part)].next if (topic, part) in tallies else None)
                 for (topic, part), hw in highwaters.items()],
            )
        return fenced

    def rewind(self, group: str, topic: str, part: int, offset: int = 0) -> None:
        """Forget a partition's position (the broker lost its data and starts again at 0)."""
        with self._tx() as db:
            db.execute("UPDATE offsets SET next_offset=? WHERE grp=? AND topic=? AND part=?",
                       (offset, group, topic, part))

    def same_topic(self, group: str, topic: str, topic_id: str) -> bool:
        """Record the topic's id; False (and every stored position of it back to 0) when it changed:
        the topic was deleted and created again (an embedded broker that restarted empty)."""
        with self._tx() as db:
            row = db.execute("SELECT topic_id FROM topic_ids WHERE grp=? AND topic=?", (group, topic)).fetchone()
            db.execute("INSERT OR REPLACE INTO topic_ids VALUES (?,?,?)", (group, topic, topic_id))
            if row is None or row[0] == topic_id:
                return True
            db.execute("UPDATE offsets SET next_offset=0 WHERE grp=? AND topic=?", (group, topic))
            return False

    def totals(self, group: str) -> tuple[int, int]:
        """(evaluated, skipped) records over every partition, for every process of the group."""
        row = self._db().execute("SELECT COALESCE(SUM(evaluated),0), COALESCE(SUM(skipped),0) FROM offsets"
                                 " WHERE grp=?", (group,)).fetchone()
        return int(row[0]), int(row[1])

    # --- evaluation side

    def type_counts(self, topics: Iterable[str], start_bucket: int, end_bucket: int) -> dict[str, int]:
        """Events per type in the topics over buckets [start, end)."""
        names = sorted(set(topics))
        marks = ",".join("?" * len(names))
        rows = self._db().execute(
            f"SELECT type, SUM(n) FROM event_counts WHERE topic IN ({marks}) AND bucket >= ? AND bucket < ?"
            " GROUP BY type", (*names, start_bucket, end_bucket),
        ).fetchall()
        return {t: int(n) for t, n in rows}

    def highwaters(self, topic: str, fresh_since: float) -> dict[int, int]:
        rows = self._db().execute("SELECT part, hw FROM highwater WHERE topic=? AND at >= ?",
                                  (topic, fresh_since)).fetchall()
        return {int(p): int(hw) for p, hw in rows}

    def backlog(self, topics: Iterable[str], fresh_since: float) -> int:
        """Records Scout's own consumers have yet to count on these topics (as last reported)."""
        names = sorted(set(topics))
        marks = ",".join("?" * len(names))
        row = self._db().execute(
            f"SELECT COALESCE(SUM(MAX(hw - COALESCE(position, 0), 0)), 0) FROM highwater WHERE topic IN ({marks})"
            " AND at >= ?", (*names, fresh_since)).fetchone()
        return int(row[0])

    def add_samples(self, samples: Iterable[tuple[str, float, float, float]]) -> None:
        """SLO samples: (slo, time, good, total) for one interval each."""
        with self._tx() as db:
            db.executemany("INSERT INTO slo_samples VALUES (?,?,?,?)", list(samples))

    def sample_sums(self, slo: str, since: float) -> tuple[float, float]:
        """(good, total) of an SLO's samples at or after ``since``."""
        row = self._db().execute("SELECT COALESCE(SUM(good),0), COALESCE(SUM(total),0) FROM slo_samples"
                                 " WHERE slo=? AND at >= ?", (slo, since)).fetchone()
        return float(row[0]), float(row[1])

    def prune(self, before: float) -> None:
        """Drop counts and samples older than ``before`` (the longest window still needed)."""
        with self._tx() as db:
            db.execute("DELETE FROM event_counts WHERE bucket < ?", (int(before),))
            db.execute("DELETE FROM slo_samples WHERE at < ?", (before,))

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


class LeaderLock:
    """One leader per state directory: an exclusive ``flock`` held for as long as the process
    lives (the kernel releases it when the process dies, so a standby takes over)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fh: IO[bytes] | None = None

    @property
    def held(self) -> bool:
        return self._fh is not None

    def try_acquire(self) -> bool:
        if self._fh is not None:
            return True
        fh = open(self.path, "a+b")  # noqa: SIM115 - held open for the lock's lifetime
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            return False
        self._fh = fh
        return True

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None
