"""Brain's live evidence (``LiveEvidence.collect``) against a running trace store.

The incident window ends ``settle_s`` before now: a span of the last seconds may still be running
or waiting in an export batch while its log line is already readable, so spans and log lines that
recent are left out, but a runtime event (read straight from the runtime) still counts.

The baseline leaves out the time of earlier incidents: a fault that recurs would otherwise look
usual against its own last occurrence.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, set_span_in_context

from agents.brain.evidence import LiveEvidence, WindowPolicy
from sre_space.adapters.traces.jaeger import JaegerQuery
from sre_space.models.events import IncidentWorkItem, WorkItemKind
from tests.helpers import poll_until

SVC = f"settle-{uuid.uuid4().hex[:6]}"
NS = 1_000_000_000


def _emit(endpoint: str, starts: dict[str, float], service: str = SVC,
          with_client: bool = False) -> dict[str, tuple[str, str]]:
    """One trace per name: a 10 ms server span started at the given time (and a client span
    inside it, ``with_client``); ``name -> (trace id, server span id)``."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    tracer = provider.get_tracer("evidence")
    ids = {}
    for name, start in starts.items():
        span = tracer.start_span(name, kind=SpanKind.SERVER, start_time=int(start * NS))
        if with_client:
            client = tracer.start_span(f"{name} db", kind=SpanKind.CLIENT, start_time=int((start + 0.001) * NS),
                                       context=set_span_in_context(span))
            client.end(end_time=int((start + 0.005) * NS))
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


@pytest.mark.parametrize("reopened", [False, True], ids=["earlier-incident", "reopened-incident"])
def test_baseline_leaves_out_an_earlier_incident(trace_store: Any, tmp_path: Path, reopened: bool) -> None:
    now = time.time()
    service = f"earlier-{uuid.uuid4().hex[:6]}"
    # Windows: incident from now - 33 (opened now - 23, 10 s detection lag), baseline the 60 s
    # before it. Incident #1 opened at now - 60 and was resolved at now - 55: its time, from its
    # detection lag before until 30 s of recovery after, [now - 70, now - 25), is left out, and
    # the baseline's 60 s are taken from the clean time before it, [now - 130, now - 70).
    clean = {f"GET /clean/{i}": now - 128 + i for i in range(50)}
    during = {f"GET /during/{i}": now - 68 + 0.8 * i for i in range(40)}
    _emit(trace_store.otlp_endpoint, clean | during, service, with_client=True)
    with JaegerQuery(trace_store.query_url) as query:
        poll_until(lambda: len(query.find_traces(service, int((now - 200) * 1e6), int(now * 1e6), limit=200)) == 90,
                   "the traces are stored", timeout=30)

    def control(home: Path, method: str, path: str, **params: Any) -> dict[str, Any]:
        return {"events": []} if path == "/events" else {"lines": []}

    policy = WindowPolicy(incident_s=30, detection_lag_s=10, baseline_s=60, settle_s=3)
    # Either #1 is another incident and #2 this one (opened now: not left out), or the fault
    # recurred and Scout reopened #1 itself: open since now - 60, its first occurrence is left out.
    kind = WorkItemKind.REOPENED if reopened else WorkItemKind.OPENED
    item = IncidentWorkItem(incident=1 if reopened else 2, kind=kind, fingerprint=f"{service}:error_rate",
                            service=service, signal="error_rate", severity=2,
                            time=datetime.fromtimestamp(now - 23, UTC))
    history: list[tuple[int, float, float | None]] = (
        [(1, now - 60, None)] if reopened else [(1, now - 60, now - 55), (2, now - 23, None)])
    evidence = LiveEvidence(tmp_path, trace_store.query_url, control=control, now=lambda: now, windows=policy,
                            earlier=lambda: history)
    collected = evidence.collect(item)
    baseline = collected.baseline
    ops = {s.operation for s in baseline.spans if s.service == service and s.kind.value == "server"}
    assert ops == set(clean)
    assert (baseline.start_us, baseline.end_us) == (int((now - 130) * 1e6), int((now - 33) * 1e6))
    assert abs(baseline.seconds - 60) < 1e-3
    assert any("earlier incidents (#1)" in n for n in collected.notes)

    # Without the history (or when the tracker cannot be read) the baseline is the plain one.
    def unreadable() -> list[tuple[int, float, float | None]]:
        raise OSError("tracker down")

    plain = LiveEvidence(tmp_path, trace_store.query_url, control=control, now=lambda: now, windows=policy,
                         earlier=unreadable).collect(item)
    assert {s.operation for s in plain.baseline.spans if s.service == service and s.kind.value == "server"} == {
        *[op for op, start in clean.items() if start >= now - 93], *during}
    assert any(n.startswith("earlier incidents unavailable: tracker down") for n in plain.notes)
