"""The server side of every request: a SERVER span, RED metrics, runtime flags and one log line.

A plain ASGI middleware (no response buffering). The span's parent comes from the incoming
``traceparent``; its name and the metrics' ``route`` label use the route template
(``GET /users/{user_id}``) so ids do not explode cardinality. 5xx responses set the span status
to ERROR; unhandled exceptions are recorded on the span, logged with their stack, and answered
with a JSON 500. Probe routes (/health, /ready, /metrics) are counted but not traced or logged
unless TRACE_PROBES is on: probes every second would drown the journeys in the trace store.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN, SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.flags import FlagStore, apply_request_flags
from services.common.metrics import Metrics
from services.common.telemetry import context_from_http

log = logging.getLogger("services.http")
PROBES = frozenset({"/health", "/ready", "/metrics"})


class ServerMiddleware:
    """Wraps the app: tracing, metrics, request flags (extra latency, error rate), access log."""

    def __init__(
        self, app: ASGIApp, *, metrics: Metrics, flags: FlagStore, trace_probes: bool = False,
        rand: Callable[[], float] = random.random, tracer_provider: trace.TracerProvider | None = None,
    ) -> None:
        self.app, self.metrics, self.flags = app, metrics, flags
        self.trace_probes, self.rand = trace_probes, rand
        self._tracer = trace.get_tracer(__name__, tracer_provider=tracer_provider)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        probe = path in PROBES
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        state: dict[str, Any] = {"status": 500, "started": False}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"], state["started"] = message["status"], True
            await send(message)

        span_cm: Any = nullcontext(INVALID_SPAN)
        if self.trace_probes or not probe:
            span_cm = self._tracer.start_as_current_span(
                f"{method} {path}", context=context_from_http(headers), kind=SpanKind.SERVER,
                attributes=_request_attributes(scope, headers), record_exception=False,
                set_status_on_exception=False,
            )
        started = time.perf_counter()
        with span_cm as span:
            try:
                if not probe:
                    await apply_request_flags(self.flags.current(), self.rand)
                await self.app(scope, receive, send_wrapper)
            except Exception as exc:
                span.record_exception(exc)
                span.set_attribute("error.type", type(exc).__name__)
                log.error("unhandled error in %s %s", method, path, exc_info=exc)
                if not state["started"]:
                    await _send_500(send)
                state["status"] = 500
            elapsed = time.perf_counter() - started
            route = _route_of(scope)
            self._finish_span(span, method, route, state["status"])
            if not probe:
                log.info(
                    "%s %s %s", method, route, state["status"],
                    extra={"http_method": method, "http_route": route, "http_status": state["status"],
                           "duration_ms": round(elapsed * 1000, 2)},
                )
        self.metrics.requests.labels(method, route, str(state["status"])).inc()
        self.metrics.request_duration.labels(method, route).observe(elapsed)

    @staticmethod
    def _finish_span(span: Any, method: str, route: str, status: int) -> None:
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR))


def _route_of(scope: Scope) -> str:
    """The matched route template; unmatched paths share one label."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


def _request_attributes(scope: Scope, headers: dict[str, str]) -> dict[str, Any]:
    server = scope.get("server") or ("", 0)
    client = scope.get("client") or ("", 0)
    return {
        "http.request.method": scope["method"],
        "url.path": scope["path"],
        "url.scheme": scope.get("scheme", "http"),
        "server.address": server[0],
        "server.port": server[1],
        "client.address": client[0],
        "user_agent.original": headers.get("user-agent", ""),
    }


async def _send_500(send: Send) -> None:
    body = json.dumps({"error": "internal server error"}).encode()
    await send({"type": "http.response.start", "status": 500,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
