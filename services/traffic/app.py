"""traffic: synthetic monitoring. Runs journeys at JOURNEYS_PER_SECOND with at most CONCURRENCY
in flight (JOURNEY_LIMIT > 0 stops after that many), records each in ``DATA_DIR/journeys.jsonl``
and in Prometheus (``journeys_total{outcome}``, ``journey_duration_seconds{outcome}``), and
summarises them at ``GET /stats``."""

from __future__ import annotations

import asyncio
import logging
import random

from fastapi import APIRouter, FastAPI

from services.common.app import create_app
from services.common.context import ServiceContext, wait_for_stop
from services.common.http import ServiceClient
from services.traffic.journey import run_journey
from services.traffic.stats import JourneyResult, JourneyStats

log = logging.getLogger(__name__)


class Generator:
    """Paces journeys and records their results."""

    def __init__(self, ctx: ServiceContext, frontend: ServiceClient) -> None:
        self.ctx, self.frontend = ctx, frontend
        self.stats = JourneyStats()
        self.in_flight: set[asyncio.Task[None]] = set()
        self.started = 0
        self.journal = ctx.settings.data_path("journeys.jsonl")
        self.count = ctx.metrics.counter("journeys", "Synthetic journeys by outcome", ["outcome"])
        self.duration = ctx.metrics.histogram("journey_duration_seconds", "Journey duration", ["outcome"])
        self.rng = random.Random()

    async def run(self, stop: asyncio.Event) -> None:
        """Start journeys on a fixed schedule until stopped or JOURNEY_LIMIT is reached."""
        s = self.ctx.settings
        slots = asyncio.Semaphore(s.concurrency)
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while not stop.is_set() and (s.journey_limit == 0 or self.started < s.journey_limit):
            rate = self.rate()
            if rate <= 0:
                await wait_for_stop(stop, 1.0)
                continue
            if await wait_for_stop(stop, max(0.0, next_at - loop.time())):
                break
            await slots.acquire()
            self.started += 1
            task = asyncio.create_task(self._journey(slots))
            self.in_flight.add(task)
            task.add_done_callback(self.in_flight.discard)
            # After a stall (all slots busy) do not burst to catch up: keep the configured rate.
            next_at = max(next_at + 1 / rate, loop.time() - 1.0)
        if self.in_flight:  # journeys still running at shutdown get a moment, then are dropped
            await asyncio.wait(list(self.in_flight), timeout=1.0)
        for task in list(self.in_flight):
            task.cancel()

    def rate(self) -> float:
        """Journeys per second: the runtime flag when set (load tests turn it), else the knob."""
        override = self.ctx.flags.current().journeys_per_second
        return self.ctx.settings.journeys_per_second if override is None else override

    async def _journey(self, slots: asyncio.Semaphore) -> None:
        s = self.ctx.settings
        try:
            result = await run_journey(
                self.frontend, user_count=s.user_count, timeout_s=s.journey_timeout_s,
                poll_interval_s=s.poll_interval_s, rng=self.rng,
            )
            self.record(result)
        except Exception:  # noqa: BLE001 - one broken journey must not stop the generator
            log.exception("journey crashed")
        finally:
            slots.release()

    def record(self, result: JourneyResult) -> None:
        self.stats.add(result.outcome, result.latency_ms)
        self.count.labels(result.outcome.value).inc()
        self.duration.labels(result.outcome.value).observe(result.latency_ms / 1000)
        with self.journal.open("a") as fh:
            fh.write(result.model_dump_json() + "\n")


def build(ctx: ServiceContext) -> FastAPI:
    """The traffic generator app."""
    gen = Generator(ctx, ctx.client("frontend", ctx.settings.frontend_url, resilient=False))
    ctx.tasks.append(gen.run)
    router = APIRouter()

    @router.get("/stats")
    async def stats() -> dict[str, object]:
        return gen.stats.snapshot(in_flight=len(gen.in_flight))

    return create_app(ctx, router)
