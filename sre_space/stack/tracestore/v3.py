"""Jaeger's api/v3 over HTTP (OTLP/JSON results), as v2.13's grpc-gateway serves it.

Its successful answers carry no Content-Type of their own (Go sniffs ``text/plain``); errors are
``{"error": {"httpCode", "message"}}``. Tag filters are not part of this API over HTTP.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sre_space.stack.tracestore.params import DEFAULT_LIMIT, Search, parse_go_duration, parse_trace_id, quote
from sre_space.stack.tracestore.reader import SpanReader, StoredSpan
from sre_space.stack.tracestore.render import Renderer
from sre_space.stack.tracestore.responses import TEXT_TYPE, dumps, go_error


class _Bad(Exception):
    """A malformed parameter (answered 400)."""


def _error(status: int, message: str) -> Response:
    return go_error(status, {"error": {"httpCode": status, "message": message}})


def _ok(body: Any) -> Response:
    return Response(dumps(body), media_type=TEXT_TYPE)


def _time_ns(name: str, text: str) -> int:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise _Bad(f"malformed parameter {name}: parsing time {quote(text)}: not RFC 3339") from exc
    if moment.tzinfo is None:
        raise _Bad(f"malformed parameter {name}: parsing time {quote(text)}: missing time zone")
    return int(moment.timestamp()) * 10**9 + moment.microsecond * 1000


def _duration(name: str, text: str) -> int:
    try:
        return parse_go_duration(text) if text else 0
    except ValueError as exc:
        raise _Bad(f"malformed parameter {name}: {exc}") from exc


def parse_v3_search(q: Any) -> Search:
    """``query.*`` parameters of ``GET /api/v3/traces``."""
    low, high = q.get("query.start_time_min", ""), q.get("query.start_time_max", "")
    if not low or not high:
        raise _Bad("query.start_time_min and query.start_time_max are required")
    start_ns, end_ns = _time_ns("query.start_time_min", low), _time_ns("query.start_time_max", high)
    limit_text = q.get("query.num_traces", "")
    try:
        limit = int(limit_text) if limit_text else DEFAULT_LIMIT
    except ValueError as exc:
        raise _Bad(f'malformed parameter query.num_traces: strconv.Atoi: parsing {quote(limit_text)}: '
                   "invalid syntax") from exc
    service = q.get("query.service_name", "")
    if not service:
        raise _Bad("query.service_name is required")
    return Search(service, start_ns, end_ns, q.get("query.operation_name", ""), {},
                  _duration("query.duration_min", q.get("query.duration_min", "")),
                  _duration("query.duration_max", q.get("query.duration_max", "")),
                  limit if limit > 0 else DEFAULT_LIMIT)


class V3:
    """Handlers of ``/api/v3/...`` over the same reader and renderer as the v1 API."""

    def __init__(self, reader: SpanReader, render: Renderer) -> None:
        self.reader, self.render = reader, render

    def services(self, request: Request) -> Response:
        return _ok({"services": self.reader.services()})

    def operations(self, request: Request) -> Response:
        ops = self.reader.operations(request.query_params.get("service", ""),
                                     request.query_params.get("span_kind") or None)
        return _ok({"operations": [{"name": n, "spanKind": k} for n, k in ops]})

    def search(self, request: Request) -> Response:
        try:
            q = parse_v3_search(request.query_params)
        except _Bad as exc:
            return _error(400, str(exc))
        return self._traces(self.reader.spans(self.reader.find_trace_ids(q)))

    def trace(self, request: Request) -> Response:
        try:
            trace_id = parse_trace_id(request.path_params["trace_id"])
        except ValueError as exc:
            return _error(400, f"malformed parameter trace_id: {exc}")
        return self._traces(self.reader.spans([trace_id]))

    def _traces(self, traces: dict[bytes, list[StoredSpan]]) -> Response:
        if not traces:
            return _error(404, "No traces found")
        return _ok(self.render.otlp(traces))
