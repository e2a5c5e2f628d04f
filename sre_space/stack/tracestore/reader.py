"""The reading side of the store: searches, traces, services, dependencies.

Each reading thread has its own SQLite connection (WAL lets readers run beside the writer).
Resources and scopes never change once written, so they are decoded once and cached.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from sre_space.stack.tracestore.params import Search
from sre_space.stack.tracestore.search import KIND_CODES, KIND_NAMES, NoMatch, plan
from sre_space.stack.tracestore.store import connect


class StoredSpan(NamedTuple):
    """A span as stored: its trace, owner and protobuf bytes."""

    trace_id: bytes
    service: str
    resource_id: int
    scope_id: int
    body: bytes


class SpanReader:
    """Thread-safe read access to a store file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._resources: dict[int, Resource] = {}
        self._scopes: dict[int, InstrumentationScope] = {}

    @property
    def conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self.path)
            conn.execute("PRAGMA query_only=1")
            with self._lock:
                self._all.append(conn)
        return conn

    def services(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT DISTINCT service FROM operations")]

    def operations(self, service: str, kind: str | None = None) -> list[tuple[str, str]]:
        """``(name, kind)`` of a service's operations, optionally of one kind only."""
        sql = "SELECT name, kind FROM operations WHERE service = ?"
        args: list[object] = [service]
        if kind:
            if kind not in KIND_CODES:
                return []
            sql, args = sql + " AND kind = ?", [*args, KIND_CODES[kind]]
        return [(name, KIND_NAMES.get(code, "")) for name, code in self.conn.execute(sql, args)]

    def find_trace_ids(self, q: Search) -> list[bytes]:
        """Ids of up to ``q.limit`` traces with a matching span, most recent first."""
        try:
            sql, args = plan(self.conn, q)
        except NoMatch:
            return []
        found: dict[bytes, None] = {}
        cursor = self.conn.execute(sql, args)
        while len(found) < q.limit:
            rows = cursor.fetchmany(256)
            if not rows:
                break
            for (trace_id,) in rows:
                found[trace_id] = None
                if len(found) >= q.limit:
                    break
        cursor.close()
        return list(found)

    def spans(self, trace_ids: Iterable[bytes]) -> dict[bytes, list[StoredSpan]]:
        """Every stored span of the given traces, in arrival order, grouped by trace."""
        ids = list(trace_ids)
        out: dict[bytes, list[StoredSpan]] = {t: [] for t in ids}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows = self.conn.execute(
                "SELECT trace_id, service, resource_id, scope_id, body FROM spans"
                f" WHERE trace_id IN ({','.join('?' * len(chunk))}) ORDER BY id",
                chunk,
            )
            for row in rows:
                out[row[0]].append(StoredSpan(*row))
        return {t: spans for t, spans in out.items() if spans}

    def dependencies(self, start_ns: int, end_ns: int) -> list[tuple[str, str, int]]:
        """Calls between different services (parent span → child span) started in the window."""
        return list(self.conn.execute(
            "SELECT p.service, c.service, count(*) FROM spans c JOIN spans p"
            " ON p.trace_id = c.trace_id AND p.span_id = c.parent_id"
            # Listing the services lets the (service, start) index serve the time range.
            " WHERE c.service IN (SELECT DISTINCT service FROM operations)"
            " AND c.start_ns >= ? AND c.start_ns <= ? AND p.service != c.service"
            " GROUP BY p.service, c.service",
            (start_ns, end_ns),
        ))

    def resource(self, resource_id: int) -> Resource:
        cached = self._resources.get(resource_id)
        if cached is None:
            row = self.conn.execute("SELECT body FROM resources WHERE id = ?", (resource_id,)).fetchone()
            cached = self._resources[resource_id] = Resource.FromString(row[0] if row else b"")
        return cached

    def scope(self, scope_id: int) -> InstrumentationScope:
        cached = self._scopes.get(scope_id)
        if cached is None:
            row = self.conn.execute("SELECT body FROM scopes WHERE id = ?", (scope_id,)).fetchone()
            cached = self._scopes[scope_id] = InstrumentationScope.FromString(row[0] if row else b"")
        return cached

    def close(self) -> None:
        """Close every connection the reading threads opened."""
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()
        self._local = threading.local()
