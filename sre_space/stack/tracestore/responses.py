"""Response helpers shared by the query API and api/v3: JSON as Go writes it, Go's error answers."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

JSON_TYPE, TEXT_TYPE = "application/json", "text/plain; charset=utf-8"
_NOSNIFF = {"X-Content-Type-Options": "nosniff"}


def dumps(obj: Any, pretty: bool = False) -> bytes:
    """Compact JSON as Go writes it (or indented for ``prettyPrint``)."""
    if pretty:
        return json.dumps(obj, indent=4, ensure_ascii=False).encode()
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def go_error(status: int, body: Any) -> Response:
    """What Go's ``http.Error`` sends: text/plain, nosniff, the JSON and a newline."""
    return Response(dumps(body) + b"\n", status, _NOSNIFF, TEXT_TYPE)


def jaeger_error(status: int, message: str) -> Response:
    """The v1 API's error envelope."""
    return go_error(status, {"data": None, "total": 0, "limit": 0, "offset": 0,
                             "errors": [{"code": status, "msg": message}]})


def not_found(request: Request, exc: Exception) -> Response:
    """Gorilla mux's answer to an unknown path."""
    return Response(b"404 page not found\n", 404, _NOSNIFF, TEXT_TYPE)
