"""The shared parts of one service process: settings, telemetry, metrics, flags, and the
clients, event bus and database it uses, each registered with its readiness check, start-up
step and shutdown step (shutdown runs in reverse registration order)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from services.common.db import SqlitePool
from services.common.flags import FlagStore, MemoryBallast
from services.common.http import CircuitBreaker, ServiceClient
from services.common.kafka import EventBus
from services.common.metrics import Metrics
from services.common.settings import ServiceSettings
from services.common.telemetry import Telemetry

log = logging.getLogger(__name__)
Check = Callable[[], Awaitable[bool]]
Hook = Callable[[], Awaitable[None]]
Task = Callable[[asyncio.Event], Coroutine[Any, Any, None]]
CHECK_TIMEOUT_S = 1.0


class ServiceContext:
    """The shared parts of one service process and its lifecycle hooks."""

    def __init__(self, settings: ServiceSettings, install_global_tracer: bool = True) -> None:
        self.settings = settings
        self.telemetry = Telemetry(settings, install_global=install_global_tracer)
        self.metrics = Metrics()
        self.flags = FlagStore(settings.flags_file)
        self.ballast = MemoryBallast()
        self.checks: dict[str, Check] = {}
        self.startup: list[Hook] = []
        self.shutdown: list[Hook] = []
        self.tasks: list[Task] = [periodic(0.25, self._hold_memory)]

    def client(self, peer: str, base_url: str, *, resilient: bool = True) -> ServiceClient:
        """A client for a downstream service with this service's timeout/retry/breaker knobs
        (``resilient=False``: the timeout only, for callers that must see every failure)."""
        s = self.settings
        use_breaker = resilient and s.circuit_breaker
        breaker = CircuitBreaker(s.breaker_failures, s.breaker_reset_s) if use_breaker else None
        client = ServiceClient(
            peer, base_url, timeout_s=s.http_timeout_s, retries=s.http_retries if resilient else 0,
            backoff_s=s.http_retry_backoff_s,
            breaker=breaker, metrics=self.metrics, flags=self.flags,
        )
        self.checks[peer] = client.healthy
        self.shutdown.append(client.close)
        return client

    def event_bus(self) -> EventBus:
        """The Kafka producer; topics are created and reachability watched in the background."""
        s = self.settings
        bus = EventBus(
            s.kafka_bootstrap_servers, self.metrics, client_id=s.instance_id, send_timeout_s=s.kafka_send_timeout_s
        )

        async def is_ready() -> bool:
            return bus.ready

        async def connect() -> None:
            await bus.check()

        async def close() -> None:
            await asyncio.to_thread(bus.close)

        self.checks["kafka"] = is_ready
        self.startup.append(connect)
        self.tasks.append(periodic(bus.check_interval_s, bus.check))
        self.shutdown.append(close)
        return bus

    def database(self, filename: str, schema: str) -> SqlitePool:
        """A SQLite pool on ``DATA_DIR/filename`` (DB_POOL_SIZE connections), opened at start-up."""
        s = self.settings
        pool = SqlitePool(s.data_path(filename), s.db_pool_size, s.db_pool_timeout_s, self.metrics)

        async def open_pool() -> None:
            pool.open(schema)

        async def close() -> None:
            pool.close()

        self.checks["database"] = pool.ping
        self.startup.append(open_pool)
        self.shutdown.append(close)
        return pool

    async def _hold_memory(self) -> None:
        self.ballast.tick(self.flags.current().memory_growth_mb_per_s)

    async def readiness(self) -> dict[str, bool]:
        """Run every check concurrently, each bounded by CHECK_TIMEOUT_S."""

        async def run(check: Check) -> bool:
            try:
                return await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
            except Exception:  # noqa: BLE001 - a failing check is simply "not ready"
                return False

        names = list(self.checks)
        results = await asyncio.gather(*(run(self.checks[n]) for n in names))
        return dict(zip(names, results, strict=True))


async def wait_for_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to ``seconds``; True as soon as ``stop`` is set."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True


def periodic(interval_s: float, fn: Callable[[], Awaitable[object]]) -> Task:
    """A background task calling ``fn`` every ``interval_s`` until the service stops."""

    async def loop(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await fn()
            except Exception:  # noqa: BLE001 - a periodic job must survive one bad round
                log.warning("periodic task failed", exc_info=True)
            await wait_for_stop(stop, interval_s)

    return loop
