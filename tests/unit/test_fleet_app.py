"""The shared service shell in-process: server spans, route labels, error mapping, flags, probes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from services.common.app import create_app
from services.common.context import ServiceContext
from services.common.errors import DependencyError
from services.common.settings import load_settings

PARENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"


class Shell:
    def __init__(self, tmp_path: Path) -> None:
        self.flags_file = tmp_path / "flags.json"
        settings = load_settings(service_name="quote-service", data_dir=tmp_path, flags_file=self.flags_file)
        self.ctx = ServiceContext(settings, install_global_tracer=False)
        self.exporter = InMemorySpanExporter()
        self.ctx.telemetry.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.calls = 0
        router = APIRouter()

        @router.get("/items/{item_id}")
        async def item(item_id: int) -> dict[str, int]:
            self.calls += 1
            return {"item_id": item_id}

        @router.get("/down")
        async def down() -> None:
            raise DependencyError("user-service", "timeout (ReadTimeout)")

        @router.get("/boom")
        async def boom() -> None:
            raise KeyError("premium")

        async def never_ready() -> bool:
            return False

        self.ctx.checks["user-service"] = never_ready
        self.app = create_app(self.ctx, router)

    def get(self, path: str, **headers: str) -> httpx.Response:
        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://quote") as client:
                return await client.get(path, headers=headers)

        return asyncio.run(call())

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def metrics(self) -> str:
        return self.ctx.metrics.render().decode()


@pytest.fixture
def shell(tmp_path: Path) -> Shell:
    return Shell(tmp_path)


def test_server_span_joins_the_callers_trace_and_names_the_route(shell: Shell) -> None:
    resp = shell.get("/items/42", traceparent=f"00-{PARENT_TRACE}-{PARENT_SPAN}-01")
    assert resp.json() == {"item_id": 42}
    (span,) = shell.spans()
    assert span.kind is SpanKind.SERVER and span.name == "GET /items/{item_id}"
    assert format(span.context.trace_id, "032x") == PARENT_TRACE
    assert span.parent is not None and format(span.parent.span_id, "016x") == PARENT_SPAN
    assert dict(span.attributes or {})["http.route"] == "/items/{item_id}"
    assert dict(span.attributes or {})["http.response.status_code"] == 200
    assert span.status.status_code is StatusCode.UNSET
    assert 'http_server_requests_total{method="GET",route="/items/{item_id}",status="200"} 1.0' in shell.metrics()


def test_dependency_error_is_a_503_with_an_error_span(shell: Shell) -> None:
    resp = shell.get("/down")
    assert resp.status_code == 503 and resp.json()["error"] == "user-service: timeout (ReadTimeout)"
    (span,) = shell.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert [e.name for e in span.events] == ["exception"]


def test_unhandled_exception_is_a_json_500_recorded_on_the_span(shell: Shell) -> None:
    resp = shell.get("/boom")
    assert resp.status_code == 500 and resp.json() == {"error": "internal server error"}
    (span,) = shell.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert dict(span.events[0].attributes or {})["exception.type"] == "KeyError"
    assert 'status="500"' in shell.metrics()


def test_error_rate_flag_fails_requests_before_the_handler(shell: Shell) -> None:
    shell.flags_file.write_text(json.dumps({"error_rate": 1.0}))
    assert shell.get("/items/1").status_code == 500
    assert shell.calls == 0


def test_extra_latency_flag_shows_in_the_span(shell: Shell) -> None:
    shell.flags_file.write_text(json.dumps({"extra_latency_ms": 120}))
    assert shell.get("/items/1").status_code == 200
    (span,) = shell.spans()
    assert span.end_time is not None and span.start_time is not None
    assert (span.end_time - span.start_time) / 1e6 >= 120


def test_probes_are_counted_not_traced(shell: Shell) -> None:
    assert shell.get("/health").json()["service"] == "quote-service"
    ready = shell.get("/ready")
    assert ready.status_code == 503 and ready.json() == {"ready": False, "checks": {"user-service": False}}
    assert shell.spans() == []
    text = shell.get("/metrics").text
    assert 'http_server_requests_total{method="GET",route="/health",status="200"} 1.0' in text
    assert "process_resident_memory_bytes" in text


def test_unknown_paths_share_one_route_label(shell: Shell) -> None:
    assert shell.get("/no/such/path/123").status_code == 404
    assert 'route="unmatched",status="404"' in shell.metrics()
