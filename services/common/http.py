"""Outgoing HTTP between services: client spans, trace context, timeouts, retries, circuit breaker.

``ServiceClient.request`` makes up to ``1 + retries`` attempts, one CLIENT span each, with
exponential backoff and jitter between them. Timeouts, refused connections and 5xx responses are
failures: they count against the breaker and are retried. A 4xx is the caller's answer and is
returned as is. When every attempt failed or the breaker is open, ``DependencyError`` is raised
(the app maps it to 503).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

import httpx
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from services.common.errors import DependencyError
from services.common.flags import FlagStore
from services.common.metrics import Metrics
from services.common.telemetry import http_headers

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class BreakerState(StrEnum):
    """Circuit breaker states, as they read in logs and the breaker gauge."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Opens after ``failure_threshold`` consecutive failures; after ``reset_after_s`` lets one
    trial call through (half-open): success closes it, failure opens it again."""

    def __init__(self, failure_threshold: int = 5, reset_after_s: float = 5.0, clock: Clock = time.monotonic):
        self.failure_threshold, self.reset_after_s, self.clock = failure_threshold, reset_after_s, clock
        self.failures = 0
        self._opened_at: float | None = None
        self._trial_at: float | None = None  # when the half-open trial call went out

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self.clock() - self._opened_at >= self.reset_after_s:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def allow(self) -> bool:
        """Whether a call may go out now (in half-open, only one trial at a time)."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        now = self.clock()
        # A trial that never reported back (cancelled caller) must not wedge the breaker.
        if state is BreakerState.HALF_OPEN and (self._trial_at is None or now - self._trial_at >= self.reset_after_s):
            self._trial_at = now
            return True
        return False

    def record_success(self) -> None:
        self.failures, self._opened_at, self._trial_at = 0, None, None

    def record_failure(self) -> None:
        self.failures += 1
        if self._trial_at is not None or self.failures >= self.failure_threshold:
            self._opened_at, self._trial_at = self.clock(), None


def backoff_delay(attempt: int, base_s: float, cap_s: float = 1.0, rand: Callable[[], float] = random.random) -> float:
    """Delay before retry number ``attempt`` (0-based): exponential, capped, with equal jitter."""
    ceiling = min(cap_s, base_s * float(2**attempt))
    return ceiling / 2 + rand() * ceiling / 2


class ServiceClient:
    """An async HTTP client for one downstream service (``peer``), shared by all requests."""

    def __init__(
        self,
        peer: str,
        base_url: str,
        *,
        timeout_s: float,
        retries: int = 0,
        backoff_s: float = 0.05,
        breaker: CircuitBreaker | None = None,
        metrics: Metrics | None = None,
        flags: FlagStore | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.peer, self.base_url = peer, base_url.rstrip("/")
        self.timeout_s, self.retries, self.backoff_s = timeout_s, retries, backoff_s
        self.breaker, self.metrics, self.flags, self.sleep = breaker, metrics, flags, sleep
        self._http = httpx.AsyncClient(base_url=self.base_url, transport=transport)
        self._url = httpx.URL(self.base_url)
        self._tracer = trace.get_tracer(__name__)

    def _timeout(self) -> float:
        override = self.flags.current().dependency_timeout_ms if self.flags else 0.0
        return override / 1000 if override > 0 else self.timeout_s

    async def request(self, method: str, path: str, *, route: str | None = None, **kwargs: Any) -> httpx.Response:
        """Send with retries; a response < 500 is returned, anything else raises DependencyError."""
        last = "no attempt made"
        for attempt in range(self.retries + 1):
            if attempt:
                await self.sleep(backoff_delay(attempt - 1, self.backoff_s))
            if self.breaker is not None and not self.breaker.allow():
                self._count("breaker_open")
                raise DependencyError(self.peer, "circuit breaker open")
            response, last = await self._attempt(method, path, route or path, attempt, **kwargs)
            if response is not None:
                return response
        raise DependencyError(self.peer, last)

    async def _attempt(
        self, method: str, path: str, route: str, attempt: int, **kwargs: Any
    ) -> tuple[httpx.Response | None, str]:
        attrs: dict[str, Any] = {
            "http.request.method": method, "url.full": f"{self.base_url}{path}", "url.template": route,
            "server.address": self._url.host, "server.port": self._url.port or 80, "peer.service": self.peer,
        }
        if attempt:
            attrs["http.request.resend_count"] = attempt
        started = time.perf_counter()
        with self._tracer.start_as_current_span(
            f"{method} {route}", kind=SpanKind.CLIENT, attributes=attrs, record_exception=False,
            set_status_on_exception=False,
        ) as span:
            headers = http_headers(kwargs.pop("headers", None))
            try:
                response = await self._http.request(method, path, headers=headers, timeout=self._timeout(), **kwargs)
            except httpx.TransportError as exc:
                reason = "timeout" if isinstance(exc, httpx.TimeoutException) else "unreachable"
                span.record_exception(exc)
                span.set_attribute("error.type", type(exc).__name__)
                span.set_status(Status(StatusCode.ERROR, reason))
                self._finish(False, reason, started)
                return None, f"{reason} ({type(exc).__name__})"
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                span.set_attribute("error.type", str(response.status_code))
                span.set_status(Status(StatusCode.ERROR))
                self._finish(False, "server_error", started)
                return None, f"HTTP {response.status_code}"
            self._finish(True, "ok" if response.status_code < 400 else "client_error", started)
            return response, ""

    def _finish(self, ok: bool, outcome: str, started: float) -> None:
        if self.breaker is not None:
            (self.breaker.record_success if ok else self.breaker.record_failure)()
        self._count(outcome)
        if self.metrics is not None:
            self.metrics.client_duration.labels(self.peer).observe(time.perf_counter() - started)

    def _count(self, outcome: str) -> None:
        if self.metrics is None:
            return
        self.metrics.client_requests.labels(self.peer, outcome).inc()
        if self.breaker is not None:
            self.metrics.breaker_open.labels(self.peer).set(int(self.breaker.state is BreakerState.OPEN))

    async def get(self, path: str, *, route: str | None = None, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, route=route, **kwargs)

    async def post(self, path: str, *, route: str | None = None, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, route=route, **kwargs)

    async def healthy(self, timeout_s: float = 0.5) -> bool:
        """Readiness probe of the peer's ``/health``: no span, no retry, no breaker."""
        try:
            return (await self._http.get("/health", timeout=timeout_s)).status_code == 200
        except httpx.HTTPError:
            return False

    async def close(self) -> None:
        await self._http.aclose()
