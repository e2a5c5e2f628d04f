"""Brain's live evidence (``LiveEvidence.collect``) against a running trace store.

The incident window ends ``settle_s`` before now: a span of the last seconds may still be running
or waiting in an export batch while its log line is already readable, so spans and log lines that
recent are left out, but a runtime event (read straight from the runtime) still counts.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind

from agents.brain.evidence import LiveEvidence, WindowPolicy
from sre_space.adapters.traces.jaeger import JaegerQuery
from sre_space.models.events import IncidentWorkItem, WorkItemKind
from tests.helpers import poll_until

SVC = f"settle-{uuid.uuid4().hex[:6]}"
NS = 1_000_000_000


def _emit(endpoint: str, starts: dict[str, float]) -> dict[str, tuple[str, str]]:
    """One 10 ms server span per name, started at the given time: ``name -> (trace id, span id)``."""
    provider = TracerProvider(resource=Resource.create({"service.name": SVC}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    tracer = provider.get_tracer("settle")
    ids = {}
    for name, start in starts.items():
        span = tracer.start_span(name, kind=SpanKind.SERVER, start_time=int(start * NS))
        span.end(end_time=int((start + 0.01) * NS))
        ctx = span.get_span_context()
        ids[name] = (format(ctx.trace_id, "032x"), format(ctx.span_id, "016x"))
    provider.shutdown()
    return ids


def _line(when: float, ids: tuple[str, str], message: str) -> str:
    return json.dumps({"ts": datetime.fromtimestamp(when, UTC).isoformat(), "level": "INFO", "message": message,
                       "trace_id": ids[0], "span_id": ids[1]})


def test_incident_window_leaves_out_the_last_seconds_of_spans_and_logs(trace_store: Any, tmp_path: Path) -> None:
    now = time.time()
    # The store holds no baseline, so the young-fleet rule takes the first traffic (GET /early) as
    # the baseline and starts the incident 5 s before it opened (now - 10): GET /settled is inside.
    ids = _emit(trace_store.otlp_endpoint, {"GET /early": now - 25, "GET /settled": now - 8, "GET /recent": now - 1})
    with JaegerQuery(trace_store.query_url) as query:
        poll_until(lambda: all(query.get_trace(t) for t, _ in ids.values()), "the spans are stored", timeout=30)
    lines = [_line(now - 7.99, ids["GET /settled"], "GET /settled 200"),
             _line(now - 0.99, ids["GET /recent"], "GET /recent 200")]
    event = {"time": datetime.fromtimestamp(now - 1, UTC).isoformat(), "service": SVC, "instance": f"{SVC}-0",
             "kind": "oom_killed", "exit_code": 137}

    def control(home: Path, method: str, path: str, **params: Any) -> dict[str, Any]:
        if path == "/events":
            return {"events": [event]}
        return {"lines": lines if params.get("service") == SVC else []}

    policy = WindowPolicy(incident_s=30, detection_lag_s=30, baseline_s=60, settle_s=3)
    evidence = LiveEvidence(tmp_path, trace_store.query_url, control=control, now=lambda: now, windows=policy)
    item = IncidentWorkItem(incident=1, kind=WorkItemKind.OPENED, fingerprint=f"{SVC}:latency_p95", service=SVC,
                            signal="latency_p95", severity=2, time=datetime.fromtimestamp(now - 5, UTC))
    windows = evidence.collect(item)
    incident = windows.incident
    assert [s.operation for s in windows.baseline.spans if s.service == SVC] == ["GET /early"]
    assert incident.end_us == int((now - 3) * 1_000_000)
    assert [s.operation for s in incident.spans if s.service == SVC] == ["GET /settled"]
    assert [ln.message for ln in incident.logs] == ["GET /settled 200"]
    assert [(e.service, e.kind.value) for e in incident.events] == [(SVC, "oom_killed")]
