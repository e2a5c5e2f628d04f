"""``TraceQuery`` over Jaeger's v1 HTTP query API (the embedded store or a real Jaeger v2).

Jaeger's JSON is mapped onto ``Span``: tags become attributes, ``error``/``otel.status_code``
the error flag, ``span.kind`` the kind, the ``CHILD_OF`` reference the parent, the process's
``serviceName`` the service. httpx errors and HTTP failures are translated here, at the boundary.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from sre_space.adapters.traces.base import DependencyLink, Trace
from sre_space.errors import BackendError, BackendRejected, BackendUnavailable
from sre_space.models.telemetry import Span, SpanKind

# Tags Jaeger derives from OTLP fields; they become Span fields, not attributes.
_DERIVED = ("span.kind", "error", "otel.status_code", "otel.status_description")
_INSTANCE_TAGS = ("service.instance.id", "hostname", "host.name")
AttrValue = str | int | float | bool


def _norm(span_or_trace_id: Any, width: int) -> str:
    # Jaeger drops a zero high half of trace ids (16 digits instead of 32): restore it.
    return str(span_or_trace_id or "").lower().zfill(width)


def tag_value(tag: Mapping[str, Any]) -> AttrValue:
    """A Jaeger tag's value in its declared type."""
    kind = tag.get("type", "string")
    value: Any = tag.get("value")
    if kind == "bool":
        return value is True or str(value).lower() == "true"
    if kind == "int64":
        return int(value)
    if kind == "float64":
        return float(value) if not isinstance(value, str) else float(value.replace("Inf", "inf"))
    return "" if value is None else str(value)


def parse_span(doc: Mapping[str, Any], processes: Mapping[str, Any], trace_id: str) -> Span:
    """One v1 JSON span → ``Span``."""
    tags: dict[str, AttrValue] = {t["key"]: tag_value(t) for t in doc.get("tags") or []}
    derived = {key: tags.pop(key) for key in _DERIVED if key in tags}
    parent = doc.get("parentSpanID") or next(
        (r.get("spanID") for r in doc.get("references") or []
         if r.get("refType") == "CHILD_OF" and _norm(r.get("traceID"), 32) == trace_id),
        None,
    )
    process = processes.get(doc.get("processID", "")) or doc.get("process") or {}
    ptags = {t["key"]: t.get("value") for t in process.get("tags") or []}
    instance = next((str(ptags[k]) for k in _INSTANCE_TAGS if ptags.get(k)), None)
    kind = str(derived.get("span.kind", ""))
    return Span(
        trace_id=trace_id,
        span_id=_norm(doc["spanID"], 16),
        parent_id=_norm(parent, 16) if parent else None,
        service=str(process.get("serviceName", "")),
        operation=str(doc.get("operationName", "")),
        start_us=int(doc.get("startTime", 0)),
        duration_us=max(int(doc.get("duration", 0)), 0),
        kind=SpanKind(kind) if kind in SpanKind._value2member_map_ else SpanKind.UNSPECIFIED,
        error=derived.get("error") is True or derived.get("otel.status_code") == "ERROR",
        status_message=str(derived.get("otel.status_description", "")),
        attributes={k: v for k, v in tags.items() if not (isinstance(v, float) and math.isnan(v))},
        instance=instance,
    )


def parse_trace(doc: Mapping[str, Any]) -> Trace:
    """One v1 JSON trace → ``Trace`` with spans sorted by start (Jaeger sends them unordered)."""
    trace_id = _norm(doc["traceID"], 32)
    processes = doc.get("processes") or {}
    spans: dict[str, Span] = {}
    for raw in doc.get("spans") or []:
        span = parse_span(raw, processes, trace_id)
        spans[span.span_id] = span
    ordered = sorted(spans.values(), key=lambda s: (s.start_us, s.span_id))
    return Trace(trace_id=trace_id, spans=tuple(ordered))


class JaegerQuery:
    """Reads traces through ``{base_url}/api/...``; ``transport`` lets tests inject httpx's seam."""

    kind = "jaeger"

    def __init__(self, base_url: str, timeout: float = 10.0, transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """The ``data`` of a v1 answer; None for a 404."""
        where = f"trace query API {self.base_url}{path}"
        try:
            response = self._http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"{where} unreachable: {exc or type(exc).__name__}") from exc
        if response.status_code == 404:
            return None
        message = _message(response)
        if response.status_code >= 500:
            raise BackendUnavailable(f"{where} failed with {response.status_code}: {message}")
        if response.status_code >= 400:
            raise BackendRejected(f"{where} refused the query ({response.status_code}): {message}")
        try:
            return response.json().get("data")
        except (ValueError, AttributeError) as exc:
            raise BackendError(f"{where} did not answer with Jaeger's JSON envelope") from exc

    def services(self) -> list[str]:
        return sorted(self._get("/api/services") or [])

    def operations(self, service: str) -> list[str]:
        return sorted(set(self._get(f"/api/services/{quote(service, safe='')}/operations") or []))

    def find_traces(
        self,
        service: str,
        start_us: int,
        end_us: int,
        operation: str | None = None,
        tags: Mapping[str, str] | None = None,
        min_duration_us: int | None = None,
        max_duration_us: int | None = None,
        limit: int = 20,
        exclude: Collection[str] = frozenset(),
    ) -> list[Trace]:
        """Traces with a span of ``service`` in the range, newest first; those whose id is in
        ``exclude`` (already read by an earlier query) are dropped unparsed."""
        params: dict[str, Any] = {"service": service, "start": start_us, "end": end_us, "limit": limit}
        if operation:
            params["operation"] = operation
        if tags:
            params["tags"] = json.dumps(dict(tags))
        if min_duration_us:
            params["minDuration"] = f"{min_duration_us}us"
        if max_duration_us:
            params["maxDuration"] = f"{max_duration_us}us"
        merged: dict[str, Trace] = {}
        for doc in self._get("/api/traces", params) or []:
            if exclude and isinstance(doc, dict) and _norm(doc.get("traceID"), 32) in exclude:
                continue
            trace = parse_trace(doc)
            if trace.trace_id in merged:  # a backend may send one trace in pieces
                spans = {s.span_id: s for s in (*merged[trace.trace_id].spans, *trace.spans)}
                trace = Trace(trace_id=trace.trace_id, spans=tuple(sorted(spans.values(), key=_by_start)))
            merged[trace.trace_id] = trace
        return sorted(merged.values(), key=lambda t: t.start_us, reverse=True)

    def get_trace(self, trace_id: str) -> Trace | None:
        data = self._get(f"/api/traces/{quote(trace_id, safe='')}")
        return parse_trace(data[0]) if data else None

    def dependencies(self, end_us: int, lookback_us: int) -> list[DependencyLink]:
        data = self._get("/api/dependencies", {"endTs": end_us // 1000, "lookback": max(lookback_us // 1000, 1)})
        links = [
            DependencyLink(parent=d["parent"], child=d["child"], call_count=int(d.get("callCount", 0)))
            for d in data or []
            if d.get("parent") != d.get("child")
        ]
        return sorted(links, key=lambda link: (link.parent, link.child))

    def check(self) -> None:
        self.services()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> JaegerQuery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _by_start(span: Span) -> tuple[int, str]:
    return span.start_us, span.span_id


def _message(response: httpx.Response) -> str:
    """Jaeger's error text (``errors[0].msg``) or the start of the body."""
    try:
        errors = response.json().get("errors") or []
        if errors:
            return str(errors[0].get("msg", ""))
    except (ValueError, AttributeError):
        pass
    return response.text.strip()[:200]
