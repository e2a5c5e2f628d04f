"""SQLite behind a fixed-size connection pool (``DB_POOL_SIZE``), used from async handlers.

Each unit of work checks a connection out (waiting at most ``DB_POOL_TIMEOUT_S``, else
``PoolTimeout``), runs in a worker thread inside one transaction, and is traced as a CLIENT span
(``db.system=sqlite``) whose ``db.pool.wait_ms`` attribute shows time spent waiting for the pool.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from services.common.errors import PoolTimeout
from services.common.metrics import Metrics

T = TypeVar("T")


class SqlitePool:
    """A pool of ``size`` connections to one SQLite file (WAL, so readers never block the writer)."""

    def __init__(self, path: Path, size: int, timeout_s: float, metrics: Metrics | None = None) -> None:
        self.path, self.size, self.timeout_s, self.metrics = path, size, timeout_s, metrics
        self._free: asyncio.Queue[sqlite3.Connection] = asyncio.Queue()
        self._all: list[sqlite3.Connection] = []
        self._tracer = trace.get_tracer(__name__)

    def open(self, schema: str) -> None:
        """Connect ``size`` times and apply the (idempotent) schema script."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(self.size):
            conn = sqlite3.connect(self.path, check_same_thread=False, timeout=5.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.row_factory = sqlite3.Row
            self._all.append(conn)
            self._free.put_nowait(conn)
        self._all[0].executescript(schema)

    async def run(self, fn: Callable[[sqlite3.Connection], T], operation: str) -> T:
        """Run ``fn(conn)`` in one transaction on a pooled connection, in a thread."""
        with self._tracer.start_as_current_span(
            operation, kind=SpanKind.CLIENT, attributes={"db.system": "sqlite", "db.operation.name": operation}
        ) as span:
            started = time.perf_counter()
            async with self._checkout() as conn:
                span.set_attribute("db.pool.wait_ms", round((time.perf_counter() - started) * 1000, 2))
                return await asyncio.to_thread(_transaction, conn, fn)

    async def fetch_one(self, sql: str, params: tuple[Any, ...], operation: str) -> dict[str, Any] | None:
        """The first row of a query as a dict, or None."""

        def select(conn: sqlite3.Connection) -> dict[str, Any] | None:
            row = conn.execute(sql, params).fetchone()
            return dict(row) if row is not None else None

        return await self.run(select, operation)

    @asynccontextmanager
    async def _checkout(self) -> AsyncIterator[sqlite3.Connection]:
        try:
            conn = await asyncio.wait_for(self._free.get(), self.timeout_s)
        except TimeoutError as exc:
            raise PoolTimeout(f"no database connection free within {self.timeout_s}s") from exc
        self._in_use(1)
        try:
            yield conn
        finally:
            self._free.put_nowait(conn)
            self._in_use(-1)

    def _in_use(self, delta: int) -> None:
        if self.metrics is not None:
            self.metrics.db_in_use.inc(delta)

    async def ping(self) -> bool:
        """Readiness: the database answers a trivial query (untraced: probes are frequent)."""
        try:
            async with self._checkout() as conn:
                return bool(await asyncio.to_thread(lambda: conn.execute("SELECT 1").fetchone()))
        except (PoolTimeout, sqlite3.Error):
            return False

    def close(self) -> None:
        for conn in self._all:
            conn.close()
        self._all.clear()


def _transaction(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    conn.execute("BEGIN")
    try:
        result = fn(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result
