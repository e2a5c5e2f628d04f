"""What every InsureCloud service shares: context, probes, error mapping, lifecycle and serving.

A service module writes only its routes and domain logic::

    def build(ctx: ServiceContext) -> FastAPI:
        users = ctx.client("user-service", ctx.settings.user_service_url)
        router = APIRouter()
        ...
        return create_app(ctx, router)

    # __main__.py
    serve(build)

``ServiceContext`` (context.py) wires clients, the event bus and the database pool from the settings and
registers their readiness checks and shutdown steps; ``create_app`` adds ``/health``,
``/ready``, ``/metrics``, the server middleware and the lifespan; ``serve`` runs uvicorn, which
turns SIGTERM into a graceful shutdown (in-flight requests get SHUTDOWN_GRACE_S, then consumers
stop, producers flush, spans are exported).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from opentelemetry import trace
from pydantic import ValidationError

from services.common.context import ServiceContext
from services.common.errors import ServiceError
from services.common.logging import setup_logging
from services.common.middleware import ServerMiddleware
from services.common.settings import ServiceSettings, load_settings

log = logging.getLogger(__name__)
# FastAPI >= 0.16x traces requests itself when a tracer provider is set; ServerMiddleware already
# does (on every FastAPI version), so the native spans would double every server span.
_NATIVE_TELEMETRY_OFF: dict[str, Any] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}}
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters
    else {}
)


def create_app(ctx: ServiceContext, *routers: APIRouter) -> FastAPI:
    """The FastAPI app with probes, metrics, error mapping, middleware and lifecycle."""
    app = FastAPI(
        title=ctx.settings.service_name, version=ctx.settings.service_version, lifespan=_lifespan(ctx),
        **_NATIVE_TELEMETRY_OFF,
    )
    app.add_middleware(
        ServerMiddleware, metrics=ctx.metrics, flags=ctx.flags, trace_probes=ctx.settings.trace_probes,
        tracer_provider=ctx.telemetry.provider,
    )
    app.add_exception_handler(ServiceError, _service_error)  # type: ignore[arg-type]
    app.include_router(_probes(ctx))
    for router in routers:
        app.include_router(router)
    return app


def _probes(ctx: ServiceContext) -> APIRouter:
    router = APIRouter()
    s = ctx.settings

    @router.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "service": s.service_name, "version": s.service_version, "instance": s.instance_id}

    @router.get("/ready")
    async def ready() -> JSONResponse:
        checks = await ctx.readiness()
        ok = all(checks.values())
        return JSONResponse({"ready": ok, "checks": checks}, status_code=200 if ok else 503)

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(ctx.metrics.render(), media_type=ctx.metrics.content_type)

    return router


async def _service_error(request: Request, exc: ServiceError) -> JSONResponse:
    if exc.status >= 500:
        span = trace.get_current_span()
        span.record_exception(exc)
        span.set_attribute("error.type", type(exc).__name__)
        log.warning("%s %s failed: %s", request.method, request.url.path, exc)
    return JSONResponse({"error": str(exc), "kind": type(exc).__name__}, status_code=exc.status)


def _lifespan(ctx: ServiceContext) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        # kafka-python, SQLite and DNS calls run in threads; the default pool (cores + 4) is small.
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=32))
        for hook in ctx.startup:
            await hook()
        tasks = [asyncio.create_task(task(stop)) for task in ctx.tasks]
        log.info("service started", extra={"port": ctx.settings.port, "version": ctx.settings.service_version})
        yield
        log.info("service stopping")
        stop.set()
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)
        for hook in reversed(ctx.shutdown):
            try:
                await asyncio.wait_for(hook(), 3.0)
            except Exception:  # noqa: BLE001 - one failing step must not skip the others
                log.warning("shutdown step failed", exc_info=True)
        await asyncio.to_thread(ctx.telemetry.shutdown)
        log.info("service stopped")

    return lifespan


def serve(build: Callable[[ServiceContext], FastAPI], settings: ServiceSettings | None = None) -> None:
    """Entry point of ``python -m services.<name>``: settings, JSON logs, app, uvicorn."""
    if settings is None:
        try:
            settings = load_settings()
        except ValidationError as exc:  # a typo in a knob is one line, not a traceback
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
            raise SystemExit(f"invalid configuration: {problems}") from None
    setup_logging(settings.service_name, settings.instance_id, settings.log_level)
    ctx = ServiceContext(settings)
    app = build(ctx)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_config=None, access_log=False, lifespan="on",
        # Seconds in-flight requests get after SIGTERM (a float works: uvicorn hands it to wait_for).
        timeout_graceful_shutdown=settings.shutdown_grace_s,  # type: ignore[arg-type]
    )
    _Server(config).run()


class _Server(uvicorn.Server):
    """uvicorn, except that a graceful stop on SIGTERM/SIGINT exits 0 instead of re-raising the
    signal (uvicorn's default), so supervisors can tell a clean stop from a kill."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
