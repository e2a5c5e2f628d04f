"""Stored spans → Jaeger's responses: the v1 JSON of ``/api/traces`` and OTLP/JSON of api/v3.

The v1 shape follows Jaeger v2.13 exactly (see ``fixtures/jaeger/README.md``): tags sorted by key
with ``span.kind``, ``otel.scope.name``/``version`` and the status tags added; events as ``logs``
whose first field is ``event``; the parent as a ``CHILD_OF`` reference and links as
``FOLLOWS_FROM``; resources as ``processes`` ``p1``, ``p2``… without ``service.name``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from sre_space.stack.tracestore.reader import StoredSpan
from sre_space.stack.tracestore.search import KIND_NAMES, STATUS_ERROR
from sre_space.stack.tracestore.values import jaeger_tags, otlp_json_attributes

_BY_KEY: Callable[[dict[str, Any]], str] = lambda tag: tag["key"]  # noqa: E731
_STATUS_NAMES = {1: "OK", 2: "ERROR"}


def jaeger_id(trace_id: bytes) -> str:
    """A trace id as Jaeger prints it: 16 hex digits when the high half is zero, else 32."""
    text = trace_id.hex()
    return text[16:] if text.startswith("0" * 16) else text


def _tag(key: str, value: Any) -> dict[str, Any]:
    kind = "bool" if isinstance(value, bool) else "string"
    return {"key": key, "type": kind, "value": value}


def span_tags(span: Span, scope: InstrumentationScope) -> list[dict[str, Any]]:
    """A span's Jaeger tags: its attributes plus the ones Jaeger derives from OTLP fields."""
    tags = jaeger_tags(span.attributes)
    if span.kind:
        tags.append(_tag("span.kind", KIND_NAMES.get(span.kind, "")))
    if scope.name:
        tags.append(_tag("otel.scope.name", scope.name))
    if scope.version:
        tags.append(_tag("otel.scope.version", scope.version))
    status = span.status
    if status.code == STATUS_ERROR:
        tags.append(_tag("error", True))
    if status.code in _STATUS_NAMES:
        tags.append(_tag("otel.status_code", _STATUS_NAMES[status.code]))
    if status.message:
        tags.append(_tag("otel.status_description", status.message))
    if span.trace_state:
        tags.append(_tag("w3c.tracestate", span.trace_state))
    tags.sort(key=_BY_KEY)
    return tags


def span_json(span: Span, scope: InstrumentationScope, process_id: str) -> dict[str, Any]:
    """One span of a v1 trace."""
    trace_id = jaeger_id(span.trace_id)
    refs = []
    if span.parent_span_id:
        refs.append({"refType": "CHILD_OF", "traceID": trace_id, "spanID": span.parent_span_id.hex()})
    for link in span.links:
        refs.append({"refType": "FOLLOWS_FROM", "traceID": jaeger_id(link.trace_id), "spanID": link.span_id.hex()})
    logs = []
    for event in span.events:
        fields = [_tag("event", event.name)] if event.name else []
        fields += sorted(jaeger_tags(event.attributes), key=_BY_KEY)
        logs.append({"timestamp": event.time_unix_nano // 1000, "fields": fields})
    start = span.start_time_unix_nano
    return {
        "traceID": trace_id,
        "spanID": span.span_id.hex(),
        "operationName": span.name,
        "references": refs,
        "startTime": start // 1000,
        "duration": max(span.end_time_unix_nano - start, 0) // 1000,
        "tags": span_tags(span, scope),
        "logs": logs,
        "processID": process_id,
        "warnings": None,
    }


def process_json(resource: Resource, service: str) -> dict[str, Any]:
    """A v1 process: the resource's attributes without ``service.name``."""
    tags = [t for t in jaeger_tags(resource.attributes) if t["key"] != "service.name"]
    return {"serviceName": service, "tags": sorted(tags, key=_BY_KEY)}


class Renderer:
    """Renders traces, resolving resources and scopes through the reader's caches."""

    def __init__(self, resource: Callable[[int], Resource], scope: Callable[[int], InstrumentationScope]) -> None:
        self.resource, self.scope = resource, scope
        self._processes: dict[tuple[int, str], tuple[dict[str, Any], str]] = {}

    def _process(self, stored: StoredSpan) -> tuple[dict[str, Any], str]:
        key = (stored.resource_id, stored.service)
        cached = self._processes.get(key)
        if cached is None:
            process = process_json(self.resource(stored.resource_id), stored.service)
            cached = self._processes[key] = (process, json.dumps(process, sort_keys=True))
        return cached

    def trace(self, trace_id: bytes, spans: list[StoredSpan]) -> dict[str, Any]:
        """One v1 trace; identical processes share one id, numbered in order of appearance."""
        processes: dict[str, dict[str, Any]] = {}
        ids: dict[str, str] = {}
        out = []
        for stored in spans:
            process, identity = self._process(stored)
            pid = ids.get(identity)
            if pid is None:
                pid = ids[identity] = f"p{len(ids) + 1}"
                processes[pid] = process
            out.append(span_json(Span.FromString(stored.body), self.scope(stored.scope_id), pid))
        return {"traceID": jaeger_id(trace_id), "spans": out, "processes": processes, "warnings": None}

    def otlp(self, traces: dict[bytes, list[StoredSpan]]) -> dict[str, Any]:
        """api/v3's ``{"result": {"resourceSpans": [...]}}``: per trace, per resource, per scope."""
        resource_spans = []
        for spans in traces.values():
            grouped: dict[int, dict[int, list[dict[str, Any]]]] = {}
            for stored in spans:
                scopes = grouped.setdefault(stored.resource_id, {})
                scopes.setdefault(stored.scope_id, []).append(otlp_span(Span.FromString(stored.body)))
            for resource_id, scopes in grouped.items():
                resource = {"attributes": otlp_json_attributes(self.resource(resource_id).attributes)}
                scope_spans = [{"scope": otlp_scope(self.scope(sid)), "spans": s} for sid, s in scopes.items()]
                resource_spans.append({"resource": resource, "scopeSpans": scope_spans})
        return {"result": {"resourceSpans": resource_spans}}


def otlp_scope(scope: InstrumentationScope) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if scope.name:
        out["name"] = scope.name
    if scope.version:
        out["version"] = scope.version
    if scope.attributes:
        out["attributes"] = otlp_json_attributes(scope.attributes)
    return out


def otlp_span(span: Span) -> dict[str, Any]:
    """A span in OTLP/JSON as Jaeger's api/v3 serves it (empty fields left out)."""
    out: dict[str, Any] = {"traceId": span.trace_id.hex(), "spanId": span.span_id.hex()}
    if span.trace_state:
        out["traceState"] = span.trace_state
    if span.parent_span_id:
        out["parentSpanId"] = span.parent_span_id.hex()
    if span.flags:
        out["flags"] = span.flags
    out["name"] = span.name
    if span.kind:
        out["kind"] = span.kind
    out["startTimeUnixNano"] = str(span.start_time_unix_nano)
    out["endTimeUnixNano"] = str(span.end_time_unix_nano)
    if span.attributes:
        out["attributes"] = otlp_json_attributes(span.attributes)
    if span.events:
        out["events"] = [_otlp_event(e) for e in span.events]
    if span.links:
        out["links"] = [_otlp_link(link) for link in span.links]
    status: dict[str, Any] = {}
    if span.status.message:
        status["message"] = span.status.message
    if span.status.code:
        status["code"] = span.status.code
    out["status"] = status
    return out


def _otlp_event(event: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"timeUnixNano": str(event.time_unix_nano), "name": event.name}
    if event.attributes:
        out["attributes"] = otlp_json_attributes(event.attributes)
    return out


def _otlp_link(link: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"traceId": link.trace_id.hex(), "spanId": link.span_id.hex()}
    if link.trace_state:
        out["traceState"] = link.trace_state
    if link.attributes:
        out["attributes"] = otlp_json_attributes(link.attributes)
    if link.flags:
        out["flags"] = link.flags
    return out
