"""Builders of OTLP trace export requests for the trace store's tests."""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

T0 = 1_795_404_807_000_000_000  # ns, inside the fixtures' day
MS = 1_000_000


def value(v: Any) -> AnyValue:
    if isinstance(v, bool):
        return AnyValue(bool_value=v)
    if isinstance(v, int):
        return AnyValue(int_value=v)
    if isinstance(v, float):
        return AnyValue(double_value=v)
    if isinstance(v, bytes):
        return AnyValue(bytes_value=v)
    if isinstance(v, list):
        return AnyValue(array_value=ArrayValue(values=[value(x) for x in v]))
    return AnyValue(string_value=v)


def attrs(d: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=k, value=value(v)) for k, v in d.items()]


def span(trace: int, sid: int, name: str, start_ms: int = 0, dur_ms: int = 10, parent: int = 0, kind: int = 0,
         attributes: dict[str, Any] | None = None, status: tuple[int, str] = (0, ""),
         events: list[tuple[str, dict[str, Any]]] | None = None, links: list[tuple[int, int]] | None = None) -> Span:
    """A span; ids are small ints turned into OTLP's 16- and 8-byte ids."""
    start = T0 + start_ms * MS
    s = Span(trace_id=trace.to_bytes(16, "big"), span_id=sid.to_bytes(8, "big"), name=name,
             parent_span_id=parent.to_bytes(8, "big") if parent else b"", kind=kind,  # type: ignore[arg-type]
             start_time_unix_nano=start, end_time_unix_nano=start + dur_ms * MS, attributes=attrs(attributes or {}),
             status=Status(code=status[0], message=status[1]))  # type: ignore[arg-type]
    for name_, a in events or []:
        s.events.add(time_unix_nano=start + MS, name=name_, attributes=attrs(a))
    for t, l_sid in links or []:
        s.links.add(trace_id=t.to_bytes(16, "big"), span_id=l_sid.to_bytes(8, "big"))
    return s


def request(service: str | None, spans: list[Span], resource: dict[str, Any] | None = None,
            scope: str = "insurecloud.quote", scope_version: str = "",
            scope_attrs: dict[str, Any] | None = None) -> ExportTraceServiceRequest:
    """One resource with one scope holding ``spans``."""
    res = {"service.name": service, **(resource or {})} if service else dict(resource or {})
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.extend(attrs(res))
    ss = rs.scope_spans.add()
    ss.scope.name, ss.scope.version = scope, scope_version
    ss.scope.attributes.extend(attrs(scope_attrs or {}))
    ss.spans.extend(spans)
    return req
