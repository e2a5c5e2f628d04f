"""InsureCloud end to end: the five services as subprocesses on free ports, a real tansu broker,
and a tiny OTLP/HTTP capture server; 20 synthetic journeys, then what the fleet reports about them.

Timeline: start user/quote/policy/frontend → all ready → start traffic (JOURNEY_LIMIT=20) →
20 journeys purchased → metrics, traces, logs and Kafka headers agree → SIGTERM stops every process.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka import KafkaConsumer
from kafka.admin import KafkaAdminClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from sre_space.net import free_port
from tests.conftest import ROOT
from tests.helpers import poll_until

JOURNEYS = 20
SERVICES = {  # fleet name -> python module; start order
    "user-service": "user",
    "quote-service": "quote",
    "policy-service": "policy",
    "frontend": "frontend",
    "traffic": "traffic",
}
# Telemetry must not give the game away (DESIGN §6): not after a letter, so "default" is fine
# but "error_injection" is not.
FORBIDDEN = re.compile(r"(?<![a-z])(chaos|fault|inject)", re.IGNORECASE)
KIND_SERVER, KIND_PRODUCER, KIND_CONSUMER = 2, 4, 5  # OTLP Span.SpanKind values


@dataclass
class CapturedSpan:
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    kind: int
    service: str
    attributes: dict[str, Any]


class OtlpCapture:
    """An OTLP/HTTP receiver that decodes ExportTraceServiceRequest and keeps every span."""

    def __init__(self) -> None:
        self.spans: list[CapturedSpan] = []
        self.lock = threading.Lock()
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                capture.ingest(body)
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def ingest(self, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        for rs in request.resource_spans:
            resource = {a.key: a.value.string_value for a in rs.resource.attributes}
            for ss in rs.scope_spans:
                for s in ss.spans:
                    attrs = {a.key: _any_value(a.value) for a in s.attributes}
                    attrs.update({f"resource.{k}": v for k, v in resource.items()})
                    span = CapturedSpan(
                        s.trace_id.hex(), s.span_id.hex(), s.parent_span_id.hex(), s.name, s.kind,
                        resource.get("service.name", ""), attrs,
                    )
                    with self.lock:
                        self.spans.append(span)

    def trace(self, trace_id: str) -> list[CapturedSpan]:
        with self.lock:
            return [s for s in self.spans if s.trace_id == trace_id]

    def __enter__(self) -> OtlpCapture:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _any_value(value: Any) -> Any:
    which = value.WhichOneof("value")
    return getattr(value, which) if which else None


@dataclass
class FleetProcess:
    name: str
    url: str
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line.strip()]


@dataclass
class Fleet:
    procs: dict[str, FleetProcess]
    capture: OtlpCapture
    broker: str
    home: Path
    extra: dict[str, Any] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return self.procs[name].url

    def get(self, name: str, path: str) -> httpx.Response:
        return httpx.get(self.url(name) + path, timeout=5)


def _env(name: str, ports: dict[str, int], home: Path, broker: str, otlp: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "KAFKA_"))}
    env.update(
        SERVICE_NAME=name, SERVICE_VERSION="0.1.0-test", SERVICE_INSTANCE=f"{name}-0", HOST="127.0.0.1",
        PORT=str(ports[name]), DATA_DIR=str(home / "data" / name), KAFKA_BOOTSTRAP_SERVERS=broker,
        OTEL_EXPORTER_OTLP_ENDPOINT=otlp, FLAGS_FILE=str(home / "flags" / f"{name}.json"),
        USER_SERVICE_URL=f"http://127.0.0.1:{ports['user-service']}",
        QUOTE_SERVICE_URL=f"http://127.0.0.1:{ports['quote-service']}",
        POLICY_SERVICE_URL=f"http://127.0.0.1:{ports['policy-service']}",
        FRONTEND_URL=f"http://127.0.0.1:{ports['frontend']}",
        USER_COUNT="50", JOURNEYS_PER_SECOND="10", CONCURRENCY="4", JOURNEY_LIMIT=str(JOURNEYS),
        JOURNEY_TIMEOUT_S="20", HTTP_TIMEOUT_S="5", PYTHONUNBUFFERED="1",
    )
    return env


def _start(p: FleetProcess, module: str, env: dict[str, str]) -> None:
    with p.log_path.open("wb") as out:
        p.proc = subprocess.Popen(
            [sys.executable, "-m", f"services.{module}"], cwd=ROOT, env=env, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )


def _ready(p: FleetProcess) -> bool:
    assert p.proc is not None and p.proc.poll() is None, f"{p.name} exited: {p.log_path.read_text()[-2000:]}"
    return httpx.get(p.url + "/ready", timeout=2).status_code == 200


@pytest.fixture(scope="module")
def fleet(broker: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    home = tmp_path_factory.mktemp("fleet")
    (home / "flags").mkdir()
    ports = {name: free_port() for name in SERVICES}
    procs = {
        name: FleetProcess(name, f"http://127.0.0.1:{ports[name]}", home / f"{name}.log") for name in SERVICES
    }
    with OtlpCapture() as capture:
        try:
            for name, module in SERVICES.items():
                if name == "traffic":  # journeys start at once: only when the rest is ready
                    for other in list(SERVICES)[:-1]:
                        poll_until(partial(_ready, procs[other]), f"{other} ready", timeout=60)
                _start(procs[name], module, _env(name, ports, home, broker, capture.endpoint))
            poll_until(lambda: _ready(procs["traffic"]), "traffic ready", timeout=60)
            yield Fleet(procs, capture, broker, home)
        finally:
            for p in procs.values():
                if p.proc is not None and p.proc.poll() is None:
                    p.proc.kill()
                    p.proc.wait(10)


@pytest.fixture(scope="module")
def journeys(fleet: Fleet) -> list[dict[str, Any]]:
    """The 20 journeys, once traffic has finished them all (from its journeys.jsonl)."""
    poll_until(lambda: fleet.get("traffic", "/stats").json()["total"] >= JOURNEYS, "20 journeys done", timeout=120)
    path = fleet.home / "data" / "traffic" / "journeys.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_journey_buys_a_policy(fleet: Fleet, journeys: list[dict[str, Any]]) -> None:
    stats = fleet.get("traffic", "/stats").json()
    assert stats["total"] == JOURNEYS
    assert stats["by_outcome"]["purchased"] == JOURNEYS, stats
    assert stats["latency_ms"]["p50"] > 0 and stats["latency_ms"]["p95"] >= stats["latency_ms"]["p50"]
    assert [j["outcome"] for j in journeys] == ["purchased"] * JOURNEYS
    policy = fleet.get("frontend", f"/api/policies/{journeys[0]['quote_id']}").json()
    assert policy["status"] == "purchased" and policy["policy_id"]


def _metric(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, value = line.rsplit(" ", 1)
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total


def test_metrics_count_the_journeys(fleet: Fleet, journeys: list[dict[str, Any]]) -> None:
    traffic = fleet.get("traffic", "/metrics").text
    assert _metric(traffic, "journeys_total", outcome="purchased") == JOURNEYS
    assert _metric(traffic, "journey_duration_seconds_count", outcome="purchased") == JOURNEYS
    frontend = fleet.get("frontend", "/metrics").text
    assert _metric(frontend, "http_server_requests_total", method="POST", route="/api/quotes", status="201") == JOURNEYS
    quote = fleet.get("quote-service", "/metrics").text
    produced = _metric(quote, "kafka_messages_produced_total", topic="insurecloud.quotes", type="quote_requested")
    assert produced == JOURNEYS
    assert _metric(quote, "http_client_requests_total", peer="user-service", outcome="ok") == JOURNEYS
    policy = fleet.get("policy-service", "/metrics").text
    assert _metric(policy, "kafka_messages_consumed_total", topic="insurecloud.quotes") == JOURNEYS
    assert _metric(policy, "kafka_messages_produced_total", type="policy_purchased") == JOURNEYS
    user = fleet.get("user-service", "/metrics").text
    assert _metric(user, "http_server_requests_total", route="/users/{user_id}", status="200") == 2 * JOURNEYS
    assert _metric(user, "process_resident_memory_bytes") > 0


def test_one_trace_covers_the_fleet_through_kafka(fleet: Fleet, journeys: list[dict[str, Any]]) -> None:
    trace_id = journeys[0]["trace_id"]
    wanted = {"traffic", "frontend", "quote-service", "policy-service", "user-service"}

    def whole_trace() -> list[CapturedSpan]:
        spans = fleet.capture.trace(trace_id)
        consumers = [s for s in spans if s.kind == KIND_CONSUMER]
        # The consumer's own children (user-service call, policies publish) arrive in later batches.
        done = wanted <= {s.service for s in spans} and consumers and any(
            s.parent_id == consumers[0].span_id for s in spans
        )
        return spans if done else []

    spans = poll_until(whole_trace, f"spans of {sorted(wanted)} in trace {trace_id}", timeout=30)
    by_id = {s.span_id: s for s in spans}
    producer = next(s for s in spans if s.kind == KIND_PRODUCER and s.name == "send insurecloud.quotes")
    consumer = next(s for s in spans if s.kind == KIND_CONSUMER)
    assert producer.service == "quote-service" and consumer.service == "policy-service"
    assert consumer.parent_id == producer.span_id, "the consumer span is a child of the producer span"
    assert consumer.attributes["messaging.system"] == "kafka"
    assert consumer.attributes["messaging.consumer.group.name"] == "policy-service"
    assert producer.attributes["messaging.destination.name"] == "insurecloud.quotes"
    # policy-service calls user-service under the consumer span: a user-service SERVER span below it.
    user_spans = [s for s in spans if s.service == "user-service"]
    assert any(_ancestor(s, consumer.span_id, by_id) for s in user_spans)
    # One SERVER span per request: the service's own middleware, not a framework's second one.
    quote_servers = [s for s in spans if s.kind == KIND_SERVER and s.name == "POST /api/quotes"]
    assert len(quote_servers) == 1 and quote_servers[0].attributes["http.route"] == "/api/quotes"
    assert not [s.name for s in spans if s.name.startswith("fastapi.")]
    attrs = next(s for s in spans if s.service == "quote-service").attributes
    assert attrs["resource.deployment.environment"] == "demo"
    assert attrs["resource.service.instance.id"] == "quote-service-0"
    assert not FORBIDDEN.findall(json.dumps([s.__dict__ for s in fleet.capture.spans]))


def _ancestor(span: CapturedSpan, ancestor_id: str, by_id: dict[str, CapturedSpan]) -> bool:
    while span.parent_id:
        if span.parent_id == ancestor_id:
            return True
        if span.parent_id not in by_id:
            return False
        span = by_id[span.parent_id]
    return False


def test_json_logs_carry_trace_ids(fleet: Fleet, journeys: list[dict[str, Any]]) -> None:
    trace_id = journeys[0]["trace_id"]
    for name in ("frontend", "quote-service", "policy-service", "user-service"):
        lines = poll_until(
            partial(_lines_of_trace, fleet.procs[name], trace_id), f"{name} log lines of trace {trace_id}", timeout=10
        )
        assert all(len(ln["span_id"]) == 16 and ln["service"] == name for ln in lines)
        assert {"ts", "level", "message", "logger"} <= set(lines[0])
    assert not FORBIDDEN.findall("".join(p.log_path.read_text() for p in fleet.procs.values()))


def _lines_of_trace(p: FleetProcess, trace_id: str) -> list[dict[str, Any]]:
    return [ln for ln in p.log_lines() if ln.get("trace_id") == trace_id]


def test_kafka_records_carry_traceparent(fleet: Fleet, journeys: list[dict[str, Any]]) -> None:
    admin = KafkaAdminClient(bootstrap_servers=fleet.broker)
    try:
        described = admin.describe_topics(["insurecloud.quotes", "insurecloud.policies"])
        topics = {t["name"]: len(t["partitions"]) for t in described}
    finally:
        admin.close()
    assert topics == {"insurecloud.quotes": 4, "insurecloud.policies": 4}
    consumer = KafkaConsumer(
        "insurecloud.quotes", "insurecloud.policies", bootstrap_servers=fleet.broker,
        group_id=f"e2e-{uuid.uuid4().hex[:8]}", auto_offset_reset="earliest", enable_auto_commit=False,
        session_timeout_ms=6000, fetch_max_wait_ms=100,
    )
    records: list[Any] = []

    def read_all() -> bool:
        for batch in consumer.poll(timeout_ms=500).values():
            records.extend(batch)
        return len(records) >= 2 * JOURNEYS

    try:
        poll_until(read_all, "quote and policy records", timeout=30)
    finally:
        consumer.close()
    journey_traces = {j["trace_id"] for j in journeys}
    for record in records:
        event = json.loads(record.value)
        headers = dict(record.headers)
        assert event["schema_version"] == 1 and event["quote_id"] == record.key.decode()
        parts = headers["traceparent"].decode().split("-")
        assert len(parts) == 4 and parts[1] in journey_traces, (event["type"], parts)
    assert sorted(json.loads(r.value)["type"] for r in records) == ["policy_purchased"] * JOURNEYS + [
        "quote_requested"
    ] * JOURNEYS


def test_frontend_serves_the_page(fleet: Fleet) -> None:
    page = fleet.get("frontend", "/")
    assert page.status_code == 200 and "/api/quotes" in page.text and "text/html" in page.headers["content-type"]


def test_sigterm_stops_every_process(fleet: Fleet, journeys: list[dict[str, Any]]) -> None:
    # Stop in reverse start order, as an orderly shutdown would.
    for p in reversed(list(fleet.procs.values())):
        assert p.proc is not None
        p.proc.send_signal(signal.SIGTERM)
        assert p.proc.wait(15) == 0, f"{p.name} exit code {p.proc.returncode}"
        messages = [ln["message"] for ln in p.log_lines()]
        assert "service stopped" in messages, f"{p.name}: {messages[-5:]}"
