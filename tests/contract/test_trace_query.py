"""The Jaeger query client (``TraceQuery`` port) against a running trace store.

Spans are emitted the way the fleet emits them (OpenTelemetry SDK, BatchSpanProcessor, OTLP/HTTP)
under service names unique to this run, then read back as ``Trace``/``Span`` models.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.propagate import extract, inject
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind as OtelKind
from opentelemetry.trace import Status, StatusCode

from sre_space.adapters.traces.base import TraceQuery
from sre_space.adapters.traces.jaeger import JaegerQuery
from sre_space.errors import BackendRejected, BackendUnavailable
from sre_space.models.telemetry import SpanKind
from sre_space.net import free_port
from tests.helpers import poll_until

RUN = uuid.uuid4().hex[:6]
FRONT, QUOTE = f"frontend-{RUN}", f"quote-{RUN}"


def _emit(endpoint: str) -> dict[str, str]:
    """Two requests frontend → quote (the second fails in quote), like the demo fleet's spans."""
    providers = {s: TracerProvider(resource=Resource.create({"service.name": s, "service.instance.id": f"{s}-1"}))
                 for s in (FRONT, QUOTE)}
    for p in providers.values():
        p.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    fe, qs = providers[FRONT].get_tracer("fe"), providers[QUOTE].get_tracer("qs")
    ids = {}
    for name, fail in (("ok", False), ("error", True)):
        with fe.start_as_current_span("GET /quote", kind=OtelKind.SERVER, attributes={"user.id": "u-1"}) as root:
            with fe.start_as_current_span("POST /quotes", kind=OtelKind.CLIENT):
                headers: dict[str, str] = {}
                inject(headers)
                with qs.start_as_current_span("POST /quotes", context=extract(headers), kind=OtelKind.SERVER,
                                              attributes={"http.response.status_code": 500 if fail else 201,
                                                          "quote.premium": 412.5, "quote.cached": False,
                                                          "quote.factors": ["age", "zip"]}) as srv:
                    time.sleep(0.02 if fail else 0.001)  # the failing request is the slow one
                    if fail:
                        srv.set_status(Status(StatusCode.ERROR, "OOMKilled"))
            ids[name] = format(root.get_span_context().trace_id, "032x")
    for p in providers.values():
        p.shutdown()
    return ids


@pytest.fixture(scope="module")
def emitted(trace_store: Any) -> Any:
    start_us = time.time_ns() // 1000 - 1_000_000
    ids = _emit(trace_store.otlp_endpoint)
    client = JaegerQuery(trace_store.query_url)
    poll_until(lambda: all(client.get_trace(i) for i in ids.values()), "emitted traces are readable", timeout=30)
    yield client, ids, start_us, time.time_ns() // 1000 + 1_000_000
    client.close()


def test_is_a_trace_query(emitted: Any) -> None:
    assert isinstance(emitted[0], TraceQuery)


def test_services_and_operations(emitted: Any) -> None:
    client = emitted[0]
    assert {FRONT, QUOTE} <= set(client.services())
    assert client.operations(QUOTE) == ["POST /quotes"]
    assert client.operations(FRONT) == ["GET /quote", "POST /quotes"]


def test_get_trace_maps_jaeger_json_onto_spans(emitted: Any) -> None:
    client, ids, _, _ = emitted
    t = client.get_trace(ids["error"])
    assert t is not None and t.trace_id == ids["error"] and len(t.spans) == 3
    assert [s.start_us for s in t.spans] == sorted(s.start_us for s in t.spans)
    root, call, server = t.spans
    assert t.root == root and root.parent_id is None and root.service == FRONT
    assert (call.parent_id, server.parent_id) == (root.span_id, call.span_id)  # across services too
    assert (root.kind, call.kind, server.kind) == (SpanKind.SERVER, SpanKind.CLIENT, SpanKind.SERVER)
    assert server.service == QUOTE and server.instance == f"{QUOTE}-1"
    assert server.error and server.status_message == "OOMKilled" and not root.error
    assert server.attributes["http.response.status_code"] == 500
    assert server.attributes["quote.premium"] == 412.5 and server.attributes["quote.cached"] is False
    assert server.attributes["quote.factors"] == '["age","zip"]'
    assert "span.kind" not in server.attributes and "error" not in server.attributes
    assert server.attributes["otel.scope.name"] == "qs"


def test_find_traces(emitted: Any) -> None:
    client, ids, start, end = emitted
    both = client.find_traces(FRONT, start, end)
    assert [t.trace_id for t in both] == [ids["error"], ids["ok"]]  # newest first
    assert [t.trace_id for t in client.find_traces(QUOTE, start, end, tags={"error": "true"})] == [ids["error"]]
    assert [t.trace_id for t in client.find_traces(QUOTE, start, end, min_duration_us=15_000)] == [ids["error"]]
    assert [t.trace_id for t in client.find_traces(QUOTE, start, end, max_duration_us=15_000)] == [ids["ok"]]
    assert len(client.find_traces(FRONT, start, end, operation="POST /quotes", limit=1)) == 1
    assert client.find_traces(QUOTE, start, end, tags={"http.response.status_code": "418"}) == []


def test_unknown_trace_is_none(emitted: Any) -> None:
    assert emitted[0].get_trace("00000000000000000000000000000001") is None


def test_dependencies_between_services_only(emitted: Any) -> None:
    client, _, start, end = emitted
    links = [link for link in client.dependencies(end, end - start) if RUN in link.parent]
    assert [(d.parent, d.child, d.call_count) for d in links] == [(FRONT, QUOTE, 2)]


def test_refused_query_is_backend_rejected(emitted: Any) -> None:
    with pytest.raises(BackendRejected, match="parameter 'service' is required"):
        emitted[0].find_traces("", 0, 1)
    with pytest.raises(BackendRejected, match="invalid syntax"):
        emitted[0].get_trace("not-a-trace-id")


def test_nothing_listening_is_backend_unavailable() -> None:
    with JaegerQuery(f"http://127.0.0.1:{free_port()}", timeout=2) as client, \
            pytest.raises(BackendUnavailable, match="unreachable"):
        client.services()
