"""``sre-space bench tracestore``: ingest rate and query latency of the embedded trace store.

Starts a store on free ports in a temporary directory (a child process, as in production), then
1. sends ``spans`` spans of InsureCloud-shaped traces, pre-built as OTLP protobuf batches so the
   sender is not the bottleneck, over OTLP/HTTP from ``senders`` threads: the store's ingest rate;
2. emits ``sdk_spans`` spans through the OpenTelemetry SDK + OTLP/HTTP exporter, as the fleet does:
   the rate one instrumented process achieves;
3. times ``queries`` searches over the 15-minute window holding all spans (plain, and
   ``error=true``) and ``queries`` get-trace calls: p50/p95 in ms, measured at the client.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from sre_space.stack.tracestore import TraceStoreProcess

WINDOW_S = 15 * 60
SERVER, CLIENT, PRODUCER, CONSUMER, INTERNAL = 2, 3, 4, 5, 1
# (service, operation, kind, parent index, extra attributes) of one quote journey.
JOURNEY: list[tuple[str, str, int, int, dict[str, Any]]] = [
    ("frontend", "GET /quote", SERVER, -1, {"http.request.method": "GET", "http.route": "/quote"}),
    ("frontend", "POST /quotes", CLIENT, 0, {"http.request.method": "POST", "server.address": "quote-service"}),
    ("quote-service", "POST /quotes", SERVER, 1, {"http.request.method": "POST", "http.route": "/quotes"}),
    ("quote-service", "GET /users/{id}", CLIENT, 2, {"http.request.method": "GET", "server.port": 8083}),
    ("user-service", "GET /users/{id}", SERVER, 3, {"http.request.method": "GET", "http.route": "/users/{id}"}),
    ("user-service", "SELECT users", CLIENT, 4, {"db.system": "sqlite", "db.statement": "SELECT * FROM users"}),
    ("quote-service", "price.calculate", INTERNAL, 2, {"quote.premium": 412.5, "quote.cached": False}),
    ("quote-service", "quote_requested publish", PRODUCER, 2, {"messaging.system": "kafka"}),
    ("policy-service", "quote_requested process", CONSUMER, 7, {"messaging.system": "kafka"}),
    ("policy-service", "GET /users/{id}", CLIENT, 8, {"http.request.method": "GET", "server.port": 8083}),
]


def _kv(key: str, value: Any) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def _resource(service: str) -> Resource:
    attrs = {"service.name": service, "service.version": "1.0.0", "deployment.environment": "bench",
             "host.name": "bench-node", "service.instance.id": f"{service}-0",
             "telemetry.sdk.language": "python", "telemetry.sdk.name": "opentelemetry"}
    return Resource(attributes=[_kv(k, v) for k, v in attrs.items()])


def _journey(rng: random.Random, start_ns: int) -> list[tuple[str, Span]]:
    trace_id, failed = rng.randbytes(16), rng.random() < 0.02
    ids = [rng.randbytes(8) for _ in JOURNEY]
    out = []
    for i, (service, name, kind, parent, extra) in enumerate(JOURNEY):
        begin = start_ns + i * 1_000_000
        span = Span(trace_id=trace_id, span_id=ids[i], parent_span_id=ids[parent] if parent >= 0 else b"",
                    name=name, kind=kind, start_time_unix_nano=begin,  # type: ignore[arg-type]
                    end_time_unix_nano=begin + rng.randint(1, 40) * 1_000_000,
                    attributes=[_kv(k, v) for k, v in extra.items()])
        if kind in (SERVER, CLIENT) and "http.request.method" in extra:
            span.attributes.append(_kv("http.response.status_code", 500 if failed else 200))
        if failed and i in (0, 2, 6):
            span.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR, message="boom" if i == 6 else ""))
            if i == 6:
                event = span.events.add(time_unix_nano=begin + 500_000, name="exception")
                event.attributes.extend([_kv("exception.type", "MemoryError"), _kv("exception.message", "OOM")])
        out.append((service, span))
    return out


def make_batches(spans: int, batch_size: int = 512, now_ns: int | None = None,
                 seed: int = 7) -> tuple[list[bytes], list[str]]:
    """Serialized export requests of about ``batch_size`` spans each, and the trace ids sent."""
    rng, now = random.Random(seed), now_ns or time.time_ns()
    resources = {s: _resource(s) for s in {j[0] for j in JOURNEY}}
    scope = InstrumentationScope(name="bench")
    batches: list[bytes] = []
    trace_ids: list[str] = []
    pending: dict[str, list[Span]] = {}
    count = 0
    while count < spans:
        start = now - rng.randint(60, WINDOW_S - 60) * 10**9
        journey = _journey(rng, start)[: spans - count]
        trace_ids.append(journey[0][1].trace_id.hex())
        for service, span in journey:
            pending.setdefault(service, []).append(span)
        count += len(journey)
        if sum(len(v) for v in pending.values()) >= batch_size or count >= spans:
            request = ExportTraceServiceRequest(resource_spans=[
                ResourceSpans(resource=resources[s], scope_spans=[ScopeSpans(scope=scope, spans=v)])
                for s, v in pending.items()
            ])
            batches.append(request.SerializeToString())
            pending = {}
    return batches, trace_ids


def _send(endpoint: str, batches: list[bytes], senders: int) -> float:
    """Post every batch (``senders`` threads); seconds until the last one was acknowledged."""
    chunks = [batches[i::senders] for i in range(senders)]
    errors: list[str] = []

    def worker(chunk: list[bytes]) -> None:
        with httpx.Client(timeout=60) as client:
            for body in chunk:
                r = client.post(endpoint, content=body, headers={"Content-Type": "application/x-protobuf"})
                if r.status_code != 200:
                    errors.append(f"{r.status_code} {r.text[:100]}")

    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise RuntimeError(f"trace store refused {len(errors)} batches: {errors[0]}")
    return elapsed


def _sdk_rate(endpoint: str, spans: int) -> float:
    """Spans per second one process emits through the OTel SDK and OTLP/HTTP exporter."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource as SdkResource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=SdkResource.create({"service.name": "bench-sdk"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint), max_queue_size=spans + 1,
                                                   max_export_batch_size=512, schedule_delay_millis=100))
    tracer = provider.get_tracer("bench")
    t0 = time.perf_counter()
    for i in range(spans // 5):
        with tracer.start_as_current_span("GET /quote", attributes={"http.route": "/quote", "i": i}):
            for _ in range(4):
                with tracer.start_as_current_span("child", attributes={"db.system": "sqlite"}):
                    pass
    provider.force_flush(60_000)
    elapsed = time.perf_counter() - t0
    provider.shutdown()
    return (spans // 5 * 5) / elapsed


def _latency(fn: Callable[[int], None], n: int) -> dict[str, float]:
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {"p50": round(statistics.median(times), 2), "p95": round(times[int(0.95 * (len(times) - 1))], 2)}


def run(spans: int = 50_000, batch_size: int = 512, senders: int = 2, sdk_spans: int = 10_000,
        queries: int = 100) -> dict[str, Any]:
    """Measure the embedded store; returns the figures (see ``render``)."""
    now = time.time_ns()
    batches, trace_ids = make_batches(spans, batch_size, now)
    with tempfile.TemporaryDirectory(prefix="sre-bench-ts-") as tmp, \
            TraceStoreProcess(Path(tmp) / "traces.db") as store, httpx.Client(base_url=store.query_url) as api:
        ingest_s = _send(store.otlp_endpoint, batches, senders)
        sdk_rate = _sdk_rate(store.otlp_endpoint, sdk_spans) if sdk_spans else 0.0
        end_us = time.time_ns() // 1000
        window: dict[str, Any] = {"service": "quote-service", "start": end_us - WINDOW_S * 10**6, "end": end_us,
                                  "limit": 20}
        rng = random.Random(3)

        def search(_: int) -> None:
            api.get("/api/traces", params=window).raise_for_status()

        def search_errors(_: int) -> None:
            api.get("/api/traces", params={**window, "tags": '{"error":"true"}'}).raise_for_status()

        def get_trace(_: int) -> None:
            api.get(f"/api/traces/{rng.choice(trace_ids)}").raise_for_status()

        found = len(api.get("/api/traces", params=window).json()["data"])
        result = {
            "spans": spans, "batches": len(batches), "batch_size": batch_size, "senders": senders,
            "ingest_seconds": round(ingest_s, 2), "ingest_spans_per_s": round(spans / ingest_s),
            "sdk_spans": sdk_spans, "sdk_spans_per_s": round(sdk_rate),
            "search_results": found,
            "search_ms": _latency(search, queries), "search_error_ms": _latency(search_errors, queries),
            "get_trace_ms": _latency(get_trace, queries),
            "store_rss_mb": round(psutil.Process(store.pid).memory_info().rss / 2**20, 1) if store.pid else None,
            "db_mb": round(sum(f.stat().st_size for f in Path(tmp).glob("traces.db*")) / 2**20, 1),
        }
    return result


def render(result: dict[str, Any]) -> str:
    """The figures as a few readable lines."""
    r = result
    return "\n".join([
        f"trace store ingest: {r['ingest_spans_per_s']:,} spans/s ({r['spans']:,} spans in {r['batches']} OTLP/HTTP "
        f"protobuf batches of {r['batch_size']}, {r['senders']} senders, {r['ingest_seconds']} s)",
        f"OTel SDK exporter:  {r['sdk_spans_per_s']:,} spans/s ({r['sdk_spans']:,} spans, one process)",
        f"search 15 min:      p50 {r['search_ms']['p50']} ms, p95 {r['search_ms']['p95']} ms "
        f"(service=quote-service, limit=20, {r['search_results']} traces)",
        f"search error=true:  p50 {r['search_error_ms']['p50']} ms, p95 {r['search_error_ms']['p95']} ms",
        f"get trace:          p50 {r['get_trace_ms']['p50']} ms, p95 {r['get_trace_ms']['p95']} ms",
        f"store: {r['store_rss_mb']} MB RSS, database {r['db_mb']} MB",
    ])


if __name__ == "__main__":
    print(render(run()))
