"""A trace search planned into SQL.

A trace matches when one of its spans meets every condition. Service, operation, time, duration
and the tags Jaeger derives from OTLP fields (``error``, ``span.kind``, ``otel.status_code``,
``otel.scope.*``) are column comparisons; any other tag must be a span, event or scope attribute
(``span_tags``) or an attribute of the span's resource (``resource_tags``).

Two plans, chosen per query:
- scan: walk the service's spans newest first through the (service, start) index, test each,
  stop after ``limit`` traces. Fast when matches are common.
- tag-driven: when a tag is on fewer than ``SELECTIVE`` spans (and on no resource), fetch exactly
  those spans and filter and sort them. Fast when matches are rare, where a scan would read the
  whole window.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sre_space.stack.tracestore.params import Search
from sre_space.stack.tracestore.store import EPOCH
from sre_space.stack.tracestore.values import index_value

KIND_NAMES = {0: "", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
KIND_CODES = {name: code for code, name in KIND_NAMES.items() if name}
STATUS_CODES = {"OK": 1, "ERROR": 2}
STATUS_ERROR = 2
SELECTIVE = 2000

_SPAN_HAS_TAG = (
    f"EXISTS (SELECT 1 FROM span_tags t WHERE t.epoch = s.id / {EPOCH} AND t.key = ? AND t.value = ?"
    " AND t.span_id = s.id)"
)


class NoMatch(Exception):
    """No span can meet the conditions (``span.kind=sideways``, a tag nobody has)."""


def column_condition(key: str, value: str) -> tuple[str, list[Any]] | None:
    """SQL for a tag Jaeger derives from a span field; None for an ordinary attribute."""
    if key == "error" and value == "true":
        return f"s.status = {STATUS_ERROR}", []  # badger's (intended) semantics: error=true ⇔ ERROR
    if key == "span.kind":
        if value not in KIND_CODES:
            raise NoMatch
        return "s.kind = ?", [KIND_CODES[value]]
    if key == "otel.status_code":
        if value not in STATUS_CODES:
            raise NoMatch
        return "s.status = ?", [STATUS_CODES[value]]
    if key in ("otel.scope.name", "otel.scope.version"):
        column = key.rsplit(".", 1)[1]
        return f"s.scope_id IN (SELECT id FROM scopes WHERE {column} = ?)", [value]
    return None


def plan(conn: sqlite3.Connection, q: Search) -> tuple[str, list[Any]]:
    """The SQL returning trace ids of matching spans, newest first; raises ``NoMatch``."""
    # Two subqueries: SQLite answers a lone min() or max() from the b-tree, both at once by a scan.
    low, high = conn.execute("SELECT (SELECT min(id) FROM spans), (SELECT max(id) FROM spans)").fetchone()
    if low is None:
        raise NoMatch
    epochs = ",".join(str(e) for e in range(low // EPOCH, high // EPOCH + 1))
    where = ["s.service = ?", "s.start_ns >= ?", "s.start_ns <= ?"]
    args: list[Any] = [q.service, q.start_ns, q.end_ns]
    for clause, value in (("s.operation = ?", q.operation), ("s.duration_ns >= ?", q.min_duration_ns),
                          ("s.duration_ns <= ?", q.max_duration_ns)):
        if value:
            where.append(clause)
            args.append(value)
    driver: tuple[int, str, str] | None = None
    for key, value in q.tags.items():
        column = column_condition(key, value)
        if column is not None:
            where.append(column[0])
            args.extend(column[1])
            continue
        text = index_value(value)
        resources = [str(r) for (r,) in conn.execute(
            "SELECT resource_id FROM resource_tags WHERE key = ? AND value = ?", (key, text))]
        if resources:
            where.append(f"(s.resource_id IN ({','.join(resources)}) OR {_SPAN_HAS_TAG})")
            args.extend([key, text])
            continue
        count = conn.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM span_tags WHERE epoch IN ({epochs}) AND key = ? AND value = ?"
            f" LIMIT {SELECTIVE})", (key, text)).fetchone()[0]
        if count == 0:
            raise NoMatch
        where.append(_SPAN_HAS_TAG)
        args.extend([key, text])
        if count < SELECTIVE and (driver is None or count < driver[0]):
            driver = (count, key, text)
    if driver is not None:
        # The unary '+' keeps SQLite off the (service, start) index: the few tagged spans lead.
        where[:3] = ["+s.service = ?", "+s.start_ns >= ?", "+s.start_ns <= ?"]
        where.insert(0, f"s.id IN (SELECT span_id FROM span_tags WHERE epoch IN ({epochs}) AND key = ? AND value = ?)")
        args = [driver[1], driver[2], *args]
    return f"SELECT s.trace_id FROM spans s WHERE {' AND '.join(where)} ORDER BY s.start_ns DESC", args
