"""Rows of Nezha's CSV files to telemetry models (spans, log lines, per-pod metric rows)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable

from agents.brain.datasets.files import service_of
from sre_space.errors import ConfigError
from sre_space.models.telemetry import LogLine, Span, SpanKind

_LEVEL = re.compile(r"\b(TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|SEVERE|FATAL|CRITICAL)\b")
_NOT_METRICS = {"Time", "TimeStamp", "PodName", "ServiceName"}


def span_of(row: dict[str, str]) -> Span:
    """One trace-file row. Nezha records no span kind or status: the engine infers both."""
    try:
        pod = row["PodName"]
        parent = row["ParentID"]
        # Every field is converted here, so skip pydantic's second validation (a case has ~10^4 rows).
        return Span.model_construct(
            trace_id=row["TraceID"], span_id=row["SpanID"],
            parent_id=None if parent in ("root", "") else parent,
            service=service_of(pod), operation=row["OperationName"],
            start_us=int(row["StartTimeUnixNano"]) // 1000, duration_us=max(int(row["Duration"]), 0),
            instance=pod, kind=SpanKind.UNSPECIFIED, error=False, status_message="", attributes={},
        )
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"malformed trace row ({exc}): {row}") from exc


def log_line(row: dict[str, str]) -> LogLine | None:
    """One log-file row; ``Log`` is the container runtime's JSON record, whose ``log`` may itself
    be a structured JSON line (``message``/``severity``) or plain text with a level word."""
    try:
        time_us = int(row["TimeUnixNano"]) // 1000
        pod = row["PodName"]
    except (KeyError, ValueError):
        return None
    text, level = _unwrap(row.get("Log", ""))
    if not level:
        match = _LEVEL.search(text[:96])
        level = match.group(1) if match else ""
    level = "WARN" if level.upper() == "WARNING" else level.upper()
    return LogLine.model_construct(
        time_us=time_us, service=service_of(pod), message=text, level=level,
        trace_id=row.get("TraceID") or None, span_id=row.get("SpanID") or None, instance=pod,
    )


def _unwrap(raw: str) -> tuple[str, str]:
    text = raw
    try:
        outer = json.loads(raw)
        if isinstance(outer, dict):
            text = str(outer.get("log", raw))
    except ValueError:
        pass
    text = text.strip()
    if text.startswith("{"):
        try:
            inner = json.loads(text)
        except ValueError:
            return text, ""
        if isinstance(inner, dict):
            message = inner.get("message") or inner.get("msg") or text
            level = inner.get("severity") or inner.get("level") or ""
            return str(message).strip(), str(level)
    return text, ""


def metric_rows(rows: Iterable[dict[str, str]]) -> list[tuple[int, dict[str, float]]]:
    """(time in µs, {metric: value}) per row; ``NaN`` and empty readings are left out."""
    out = []
    for row in rows:
        try:
            ts = int(float(row["TimeStamp"]) * 1_000_000)
        except (KeyError, ValueError):
            continue
        values = {}
        for name, text in row.items():
            if name in _NOT_METRICS or name is None:
                continue
            try:
                value = float(text)
            except (TypeError, ValueError):
                continue
            if math.isfinite(value):
                values[name] = value
        out.append((ts, values))
    return out
