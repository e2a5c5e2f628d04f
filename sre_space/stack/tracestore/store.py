"""The store's SQLite file and its one writer.

Layout: ``spans`` (indexed columns + the span's protobuf bytes), ``span_tags`` (search index,
keyed by epoch so that it can be cut by age),
``resources``/``resource_tags`` and ``scopes`` (stored once, referenced by id), ``operations``
(what ``/api/services`` and ``/api/operations`` list) and ``batches`` (one row per write, the
watermarks retention cuts at).

Span row ids are assigned in arrival order, so retention deletes a prefix of ``spans`` by id range
and whole epochs of ``span_tags``: cheap, and no extra index is needed to find what is old.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from sre_space.stack.tracestore.ingest import Flattened, flatten, service_of, tag_rows

SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
  id INTEGER PRIMARY KEY AUTOINCREMENT, digest BLOB NOT NULL UNIQUE, service TEXT NOT NULL,
  body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS resource_tags (
  key TEXT NOT NULL, value TEXT NOT NULL, resource_id INTEGER NOT NULL,
  PRIMARY KEY (key, value, resource_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS scopes (
  id INTEGER PRIMARY KEY AUTOINCREMENT, digest BLOB NOT NULL UNIQUE, name TEXT NOT NULL,
  version TEXT NOT NULL, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS spans (
  id INTEGER PRIMARY KEY, trace_id BLOB NOT NULL, span_id BLOB NOT NULL, parent_id BLOB,
  service TEXT NOT NULL, operation TEXT NOT NULL, kind INTEGER NOT NULL, start_ns INTEGER NOT NULL,
  duration_ns INTEGER NOT NULL, status INTEGER NOT NULL, resource_id INTEGER NOT NULL,
  scope_id INTEGER NOT NULL, body BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS spans_service_start ON spans (service, start_ns);
CREATE INDEX IF NOT EXISTS spans_operation_start ON spans (service, operation, start_ns);
CREATE INDEX IF NOT EXISTS spans_trace ON spans (trace_id);
CREATE INDEX IF NOT EXISTS spans_errors ON spans (service, start_ns) WHERE status = 2;
CREATE TABLE IF NOT EXISTS span_tags (
  epoch INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, span_id INTEGER NOT NULL,
  PRIMARY KEY (epoch, key, value, span_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS operations (
  service TEXT NOT NULL, name TEXT NOT NULL, kind INTEGER NOT NULL,
  PRIMARY KEY (service, name, kind)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS batches (
  id INTEGER PRIMARY KEY, received_ns INTEGER NOT NULL, last_span INTEGER NOT NULL);
"""
# Tag rows are keyed by epoch (span id // EPOCH) first: inserts stay in the newest part of the
# index, a lookup for one span is one key (its epoch is known), and retention drops whole epochs.
EPOCH = 16384

# Retention deletes at most this many spans per transaction, so ingest never waits long.
DELETE_CHUNK = 20_000


@dataclass(frozen=True)
class Retention:
    """How much the store keeps: spans older than ``max_age_s`` (by arrival) or beyond the newest
    ``max_spans`` are deleted, checked every ``interval_s`` seconds."""

    max_age_s: float = 24 * 3600.0
    max_spans: int = 2_000_000
    interval_s: float = 10.0


class IngestResult(NamedTuple):
    """Outcome of one export request."""

    accepted: int
    rejected: int
    message: str = ""


def connect(path: Path, cache_mb: int = 8) -> sqlite3.Connection:
    """A connection tuned for this store: WAL, no fsync per commit, reads through mmap (shared by
    every connection, unlike SQLite's per-connection page cache)."""
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA cache_size=-{cache_mb * 1024}")
    conn.execute("PRAGMA mmap_size=268435456")
    conn.execute("PRAGMA temp_store=MEMORY")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


class SpanStore:
    """The writing side: one connection, used from one thread at a time."""

    def __init__(self, path: Path, retention: Retention | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.path, self.retention, self.clock = Path(path), retention or Retention(), clock
        self.conn = connect(self.path, cache_mb=64)
        # Checkpoint every ~40 MB of WAL instead of 4 MB: far fewer copies while ingesting.
        self.conn.execute("PRAGMA wal_autocheckpoint=10000")
        self.conn.execute("PRAGMA journal_size_limit=67108864")
        self.conn.executescript(SCHEMA)
        self._resources: dict[bytes, tuple[int, str]] = {
            d: (i, s) for i, d, s in self.conn.execute("SELECT id, digest, service FROM resources")
        }
        self._scopes: dict[bytes, int] = {d: i for i, d in self.conn.execute("SELECT id, digest FROM scopes")}
        self._operations = set(self.conn.execute("SELECT service, name, kind FROM operations"))
        self.next_span = int(self.conn.execute("SELECT coalesce(max(id), 0) FROM spans").fetchone()[0]) + 1

    def write(self, requests: list[ExportTraceServiceRequest]) -> list[IngestResult]:
        """Store the requests in one transaction; one result per request."""
        results: list[IngestResult] = []
        rows = Flattened()
        next_span = self.next_span
        self.conn.execute("BEGIN")
        try:
            for request in requests:
                before = (len(rows.spans), rows.rejected)
                rows.reasons.clear()
                next_span = flatten(request, rows, next_span, self._resource_id, self._scope_id)
                rejected = rows.rejected - before[1]
                message = f"{rejected} spans rejected: {', '.join(rows.reasons)}" if rejected else ""
                results.append(IngestResult(len(rows.spans) - before[0], rejected, message))
            self._insert(rows)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            self._reload_caches()
            raise
        self.next_span = next_span
        self._operations |= rows.operations
        return results

    def _insert(self, rows: Flattened) -> None:
        if not rows.spans:
            return
        self.conn.executemany("INSERT INTO spans VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows.spans)
        self.conn.executemany(
            "INSERT OR IGNORE INTO span_tags VALUES (?,?,?,?)",
            [(span // EPOCH, key, value, span) for span, key, value in rows.tags],
        )
        new_ops = rows.operations - self._operations
        if new_ops:
            self.conn.executemany("INSERT OR IGNORE INTO operations VALUES (?,?,?)", sorted(new_ops))
        self.conn.execute(
            "INSERT INTO batches (received_ns, last_span) VALUES (?,?)",
            (int(self.clock() * 1e9), rows.spans[-1][0]),
        )

    def _resource_id(self, resource: Resource) -> tuple[int, str]:
        body = resource.SerializeToString()
        digest = hashlib.blake2b(body, digest_size=16).digest()
        known = self._resources.get(digest)
        if known is None:
            service = service_of(resource)
            cur = self.conn.execute(
                "INSERT INTO resources (digest, service, body) VALUES (?,?,?)", (digest, service, body)
            )
            rid = int(cur.lastrowid or 0)
            self.conn.executemany(
                "INSERT OR IGNORE INTO resource_tags VALUES (?,?,?)",
                [(k, v, rid) for k, v in tag_rows(resource.attributes)],
            )
            known = self._resources[digest] = (rid, service)
        return known

    def _scope_id(self, scope: InstrumentationScope) -> int:
        body = scope.SerializeToString()
        digest = hashlib.blake2b(body, digest_size=16).digest()
        sid = self._scopes.get(digest)
        if sid is None:
            cur = self.conn.execute(
                "INSERT INTO scopes (digest, name, version, body) VALUES (?,?,?,?)",
                (digest, scope.name, scope.version, body),
            )
            sid = self._scopes[digest] = int(cur.lastrowid or 0)
        return sid

    def _reload_caches(self) -> None:
        self._resources = {d: (i, s) for i, d, s in self.conn.execute("SELECT id, digest, service FROM resources")}
        self._scopes = {d: i for i, d in self.conn.execute("SELECT id, digest FROM scopes")}

    def enforce_retention(self) -> int:
        """Delete the oldest batches past the age or size limit, one chunk; returns spans deleted.

        Call again while it returns a positive number to catch up after a long pause.
        """
        first = self.conn.execute("SELECT min(id) FROM spans").fetchone()[0]
        if first is None:
            return 0
        cutoff_ns = int((self.clock() - self.retention.max_age_s) * 1e9)
        over = self.next_span - 1 - self.retention.max_spans  # spans with id <= over are surplus
        limit = first + DELETE_CHUNK - 1
        row = self.conn.execute(
            "SELECT id, last_span FROM batches WHERE last_span <= ? AND (received_ns < ? OR last_span <= ?)"
            " ORDER BY id DESC LIMIT 1",
            (max(limit, self.conn.execute("SELECT min(last_span) FROM batches").fetchone()[0] or 0),
             cutoff_ns, over),
        ).fetchone()
        if row is None:
            return 0
        batch, last_span = row
        self.conn.execute("BEGIN")
        try:
            deleted = self.conn.execute("DELETE FROM spans WHERE id <= ?", (last_span,)).rowcount
            # Tags of a partly deleted epoch stay until the epoch goes: no span row matches them.
            self.conn.execute("DELETE FROM span_tags WHERE epoch < ?", ((last_span + 1) // EPOCH,))
            self.conn.execute("DELETE FROM batches WHERE id <= ?", (batch,))
            self.conn.execute(
                "DELETE FROM operations WHERE NOT EXISTS (SELECT 1 FROM spans s WHERE s.service ="
                " operations.service AND s.operation = operations.name)"
            )
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self._operations = set(self.conn.execute("SELECT service, name, kind FROM operations"))
        return int(deleted)

    def close(self) -> None:
        """Checkpoint the WAL and close."""
        try:
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            self.conn.close()
