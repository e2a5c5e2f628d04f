"""Flatten an OTLP export request into the rows the store writes.

A span row keeps the indexed columns (ids, service, operation, kind, times, status) and the span's
own protobuf bytes, from which every response is rendered; resources and scopes are stored once
and referenced. Tag rows feed the search index: span attributes, event attributes and names,
scope attributes and the status message, each as ``(span row id, key, text)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from sre_space.stack.tracestore.values import MAX_INDEXED_VALUE, index_value, search_text

# What Jaeger calls a process without ``service.name`` (its OTLP translator's constant).
NO_SERVICE = "OTLPResourceNoServiceName"
_ZERO_TRACE, _ZERO_SPAN = bytes(16), bytes(8)
_REASON = "malformed trace_id, span_id or parent_span_id (OTLP wants 16, 8 and 0 or 8 non-zero bytes)"

SpanRow = tuple[int, bytes, bytes, bytes | None, str, str, int, int, int, int, int, int, bytes]
TagRow = tuple[int, str, str]


@dataclass
class Flattened:
    """Rows of one or more requests, ready for ``executemany``."""

    spans: list[SpanRow] = field(default_factory=list)
    tags: list[TagRow] = field(default_factory=list)
    operations: set[tuple[str, str, int]] = field(default_factory=set)
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)


def service_of(resource: Resource) -> str:
    """The resource's ``service.name`` (Jaeger's placeholder when it has none)."""
    for kv in resource.attributes:
        if kv.key == "service.name" and kv.value.WhichOneof("value") == "string_value":
            return str(kv.value.string_value)
    return NO_SERVICE


def tag_rows(attributes: Any) -> list[tuple[str, str]]:
    """``(key, indexed text)`` of repeated ``KeyValue``."""
    return [(kv.key, index_value(search_text(kv.value))) for kv in attributes]


def flatten(
    request: ExportTraceServiceRequest,
    out: Flattened,
    next_id: int,
    resource_id: Callable[[Resource], tuple[int, str]],
    scope_id: Callable[[InstrumentationScope], int],
) -> int:
    """Append the request's rows to ``out``; span row ids start at ``next_id``. Returns the next id.

    Spans with malformed ids are rejected (counted, with a reason), the others are kept: OTLP's
    partial success.
    """
    spans, tags, operations = out.spans, out.tags, out.operations
    add_span, add_tag = spans.append, tags.append
    for rs in request.resource_spans:
        rid, service = resource_id(rs.resource)
        for ss in rs.scope_spans:
            sid = scope_id(ss.scope)
            scope_tags = tag_rows(ss.scope.attributes)
            for span in ss.spans:
                trace_id, span_id, parent = span.trace_id, span.span_id, span.parent_span_id
                if (len(trace_id) != 16 or len(span_id) != 8 or (parent and len(parent) != 8)
                        or trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN):
                    out.rejected += 1
                    if _REASON not in out.reasons:
                        out.reasons.append(_REASON)
                    continue
                row, next_id = next_id, next_id + 1
                start, name, status = span.start_time_unix_nano, span.name, span.status
                add_span((
                    row, trace_id, span_id, parent or None, service, name, span.kind, start,
                    max(span.end_time_unix_nano - start, 0), status.code, rid, sid, span.SerializeToString(),
                ))
                # The hot loop of ingest: plain short strings (most attributes) skip the helpers.
                for kv in span.attributes:
                    value = kv.value
                    if value.WhichOneof("value") == "string_value" and len(value.string_value) <= MAX_INDEXED_VALUE:
                        add_tag((row, kv.key, value.string_value))
                    else:
                        add_tag((row, kv.key, index_value(search_text(value))))
                for event in span.events:
                    add_tag((row, "event", index_value(event.name)))
                    for key, text in tag_rows(event.attributes):
                        add_tag((row, key, text))
                if status.message:
                    add_tag((row, "otel.status_description", index_value(status.message)))
                for key, text in scope_tags:
                    add_tag((row, key, text))
                operations.add((service, name, span.kind))
    return next_id
