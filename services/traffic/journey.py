"""One synthetic user journey: request a quote through the frontend, then poll the policy.

The journey is one trace: a root ``journey`` span here, the frontend's spans under it, and
through Kafka the policy-service's. A synthetic monitor measures what users see, so its client
has no retries and no circuit breaker.
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from services.common.api import PRODUCTS
from services.common.errors import DependencyError
from services.common.http import ServiceClient
from services.common.telemetry import current_trace_id
from services.traffic.stats import JourneyResult, Outcome

FINAL = {"purchased": Outcome.PURCHASED, "failed": Outcome.FAILED}


async def run_journey(
    frontend: ServiceClient, *, user_count: int, timeout_s: float, poll_interval_s: float,
    rng: random.Random | None = None,
) -> JourneyResult:
    """Run one journey and say how it ended and how long it took."""
    rng = rng or random.Random()
    tracer = trace.get_tracer(__name__)
    started = time.perf_counter()
    with tracer.start_as_current_span("journey") as span:
        body: dict[str, object] = {"user_id": rng.randint(1, user_count), "product": rng.choice(PRODUCTS)}
        outcome, quote_id, reason = await _attempt(frontend, body, started + timeout_s, poll_interval_s)
        span.set_attribute("insurecloud.journey.outcome", outcome.value)
        if quote_id:
            span.set_attribute("insurecloud.quote_id", quote_id)
        if outcome in (Outcome.QUOTE_ERROR, Outcome.TIMEOUT):
            span.set_status(Status(StatusCode.ERROR, outcome.value))
        return JourneyResult(
            time=datetime.now(UTC).isoformat(), outcome=outcome, quote_id=quote_id, reason=reason,
            latency_ms=round((time.perf_counter() - started) * 1000, 2), trace_id=current_trace_id(),
        )


async def _attempt(
    frontend: ServiceClient, body: dict[str, object], deadline: float, poll_interval_s: float
) -> tuple[Outcome, str | None, str | None]:
    try:
        resp = await frontend.post("/api/quotes", route="/api/quotes", json=body)
    except DependencyError as exc:
        return Outcome.QUOTE_ERROR, None, exc.reason
    if resp.status_code != 201:
        return Outcome.QUOTE_ERROR, None, f"HTTP {resp.status_code}"
    quote_id = str(resp.json()["quote_id"])
    while time.perf_counter() < deadline:
        await asyncio.sleep(poll_interval_s)
        try:
            poll = await frontend.get(f"/api/policies/{quote_id}", route="/api/policies/{quote_id}")
        except DependencyError:
            continue  # a failed poll is not the end of the journey; the deadline is
        status = poll.json().get("status") if poll.status_code == 200 else None
        if status in FINAL:
            return FINAL[status], quote_id, poll.json().get("reason")
    return Outcome.TIMEOUT, quote_id, None
