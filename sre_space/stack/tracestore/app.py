"""The store's two HTTP faces, as Starlette apps: the OTLP/HTTP receiver and Jaeger's query API.

Query handlers are plain functions (Starlette runs them in its thread pool, each thread with its
own SQLite connection); the receiver is async and waits for the writer's commit before answering.
Error answers copy Jaeger's: ``text/plain`` bodies holding the JSON envelope, as Go's
``http.Error`` sends them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sre_space.stack.tracestore import otlp
from sre_space.stack.tracestore.params import ParamError, parse_dependencies, parse_search, parse_trace_id
from sre_space.stack.tracestore.reader import SpanReader
from sre_space.stack.tracestore.render import Renderer, jaeger_id
from sre_space.stack.tracestore.responses import JSON_TYPE, dumps, jaeger_error, not_found
from sre_space.stack.tracestore.v3 import V3
from sre_space.stack.tracestore.writer import Overloaded, WriterThread


class QueryApi:
    """Jaeger's v1 HTTP API (``/api/...``), api/v3 and ``/health``."""

    def __init__(self, reader: SpanReader, clock: Callable[[], float] = time.time) -> None:
        self.reader, self.clock, self.started = reader, clock, clock()
        self.render = Renderer(reader.resource, reader.scope)

    def app(self) -> Starlette:
        v3 = V3(self.reader, self.render)
        routes = [
            Route("/api/services", self.services),
            Route("/api/services/{service:path}/operations", self.operations_legacy),
            Route("/api/operations", self.operations),
            Route("/api/traces", self.search),
            Route("/api/traces/{trace_id}", self.trace),
            Route("/api/dependencies", self.dependencies),
            Route("/api/v3/services", v3.services),
            Route("/api/v3/operations", v3.operations),
            Route("/api/v3/traces", v3.search),
            Route("/api/v3/traces/{trace_id}", v3.trace),
            Route("/health", health(self.started)),
            Route("/status", health(self.started)),
        ]
        return Starlette(routes=routes, exception_handlers={404: not_found})

    def _ok(self, request: Request, data: Any, total: int = 0, errors: list[Any] | None = None) -> Response:
        pretty = request.query_params.get("prettyPrint", "") not in ("", "false")
        body = {"data": data, "total": total, "limit": 0, "offset": 0, "errors": errors or None}
        return Response(dumps(body, pretty), media_type=JSON_TYPE)

    def services(self, request: Request) -> Response:
        names = self.reader.services()
        return self._ok(request, names, len(names))

    def operations_legacy(self, request: Request) -> Response:
        names = list(dict.fromkeys(name for name, _ in self.reader.operations(request.path_params["service"])))
        return self._ok(request, names, len(names))

    def operations(self, request: Request) -> Response:
        service = request.query_params.get("service", "")
        if not service:
            return jaeger_error(400, "parameter 'service' is required")
        ops = self.reader.operations(service, request.query_params.get("spanKind") or None)
        return self._ok(request, [{"name": n, "spanKind": k} for n, k in ops], len(ops))

    def search(self, request: Request) -> Response:
        try:
            q = parse_search(request.query_params, int(self.clock() * 1e9))
        except ParamError as exc:
            return jaeger_error(400, str(exc))
        errors = []
        if q.trace_ids:
            traces = self.reader.spans(q.trace_ids)
            errors = [{"msg": "trace not found", "traceID": jaeger_id(t)} for t in q.trace_ids if t not in traces]
        else:
            traces = self.reader.spans(self.reader.find_trace_ids(q))
        data = [self.render.trace(t, spans) for t, spans in traces.items()]
        return self._ok(request, data, errors=errors)

    def trace(self, request: Request) -> Response:
        try:
            trace_id = parse_trace_id(request.path_params["trace_id"])
        except ValueError as exc:
            return jaeger_error(400, str(exc))
        spans = self.reader.spans([trace_id]).get(trace_id)
        if not spans:
            return jaeger_error(404, "trace not found")
        return self._ok(request, [self.render.trace(trace_id, spans)])

    def dependencies(self, request: Request) -> Response:
        try:
            start_ns, end_ns = parse_dependencies(request.query_params)
        except ParamError as exc:
            return jaeger_error(400, str(exc))
        service = request.query_params.get("service", "")
        links = [
            {"parent": parent, "child": child, "callCount": count}
            for parent, child, count in self.reader.dependencies(start_ns, end_ns)
            if not service or service in (parent, child)
        ]
        return self._ok(request, links)


def health(started: float) -> Callable[[Request], Response]:
    """``/health``: 200 once the store serves (Jaeger's health-check answer shape)."""

    def endpoint(request: Request) -> Response:
        body = {
            "status": "Server available",
            "upSince": datetime.fromtimestamp(started, UTC).isoformat().replace("+00:00", "Z"),
            "uptime": f"{time.time() - started:.3f}s",
        }
        return Response(dumps(body), media_type=JSON_TYPE)

    return endpoint


class OtlpReceiver:
    """``POST /v1/traces`` as an OTLP/HTTP collector answers it."""

    def __init__(self, writer: WriterThread, started: float) -> None:
        self.writer, self.started = writer, started

    def app(self) -> Starlette:
        routes = [
            Route("/v1/traces", self.export, methods=["POST"]),
            Route("/health", health(self.started)),
        ]
        return Starlette(routes=routes, exception_handlers={404: not_found})

    async def export(self, request: Request) -> Response:
        kind = otlp.JSON
        try:
            kind = otlp.media_type(request.headers.get("content-type", ""))
            body = otlp.decompress(await _read(request), request.headers.get("content-encoding", ""))
            if kind == otlp.PROTOBUF:
                export = otlp.decode(body, kind)
            else:
                export = await run_in_threadpool(otlp.decode, body, kind)
            if not export.resource_spans:
                return Response(otlp.success(kind), media_type=kind)
            result = await asyncio.wrap_future(self.writer.submit(export))
        except otlp.OtlpError as exc:
            return Response(otlp.failure(kind, exc.status, exc.message), exc.status, media_type=kind)
        except Overloaded as exc:
            return Response(otlp.failure(kind, 503, str(exc)), 503, {"Retry-After": "1"}, kind)
        except Exception as exc:  # the write failed (disk full...): already logged by the writer
            return Response(otlp.failure(kind, 500, f"trace store could not write: {exc}"), 500, media_type=kind)
        return Response(otlp.success(kind, result.rejected, result.message), media_type=kind)


async def _read(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > otlp.MAX_BODY:
        raise otlp.OtlpError(413, f"body exceeds {otlp.MAX_BODY} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > otlp.MAX_BODY:
            raise otlp.OtlpError(413, f"body exceeds {otlp.MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
