"""A stateful stand-in for GitHub's REST API (GitHub itself cannot run here).

A threaded HTTP server on a free loopback port that keeps one repository's issues, comments,
labels, branches and pull requests (issues and pulls share one number sequence) and answers with
GitHub's JSON shapes (``github_json.py``). Every exchange is recorded so that the tests can check
it against GitHub's OpenAPI description (``openapi_check.py``).

Fault switches: ``fail(mode, times)`` answers the next ``times`` matching requests with a primary
rate limit (403 + ``X-RateLimit-Remaining: 0``), a secondary one (403 + ``Retry-After``), a 429, a
502, or drops the connection before (``drop``) or after (``drop_after``) applying the request.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.standins.github_json import CommentRow, Item, Shapes

Reply = tuple[int, Any, dict[str, str]]
FAULTS = ("rate_limit", "secondary", "too_many", "server_error", "drop", "drop_after")


@dataclass
class Exchange:
    """One request and the answer it got (``answer_status`` None: the connection was dropped)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    status: int | None = None
    answer_headers: dict[str, str] = field(default_factory=dict)
    answer_body: bytes = b""
    injected: str | None = None


@dataclass
class _Fault:
    mode: str
    remaining: int
    method: str | None
    wait: int


class _Drop(Exception):
    pass


class GitHubStandIn:
    """The server (see the module docstring). Use as a context manager; ``api_url`` is its base."""

    def __init__(self, owner: str = "acme", repo: str = "fleet", token: str = "ghp_standin", login: str = "sre-bot"):
        self.token, self.login = token, login
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self.api_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self.shapes = Shapes(self.api_url, owner, repo)
        self.repository = f"{owner}/{repo}"
        self.lock = threading.Lock()
        self.exchanges: list[Exchange] = []
        self.items: dict[int, Item] = {}
        self.comments: list[CommentRow] = []
        self.branches: dict[str, str] = {"main": "a" * 40}
        self.rate_remaining = 4990
        self._faults: list[_Fault] = []
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="github-standin", daemon=True)

    def __enter__(self) -> GitHubStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def fail(self, mode: str, times: int = 1, *, method: str | None = None, wait: int = 2) -> None:
        """Answer the next ``times`` requests (of ``method`` only, when given) with fault ``mode``;
        ``wait`` is the Retry-After or the seconds until X-RateLimit-Reset."""
        assert mode in FAULTS, mode
        with self.lock:
            self._faults.append(_Fault(mode, times, method, wait))

    def heal(self) -> None:
        with self.lock:
            self._faults.clear()

    def _take_fault(self, method: str) -> _Fault | None:
        with self.lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.method in (None, method):
                    fault.remaining -= 1
                    return fault
        return None

    def requests(self, method: str | None = None) -> list[Exchange]:
        return [x for x in self.exchanges if method in (None, x.method)]

    # --- state, used by the routes under ``self.lock``

    def now(self) -> datetime:
        return datetime.now(UTC).replace(microsecond=0)

    def next_number(self) -> int:
        return max(self.items, default=0) + 1

    def n_comments(self, number: int) -> int:
        return sum(1 for c in self.comments if c.number == number)

    def item(self, number: str, *, pull: bool | None = None) -> Item:
        found = self.items.get(int(number))
        if found is None or (pull is not None and found.is_pull != pull):
            raise NotFound()
        return found


class NotFound(Exception):
    """Answered as GitHub's 404."""


class Invalid(Exception):
    """Answered as GitHub's 422 Validation Failed."""

    def __init__(self, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


def _handler(server: GitHubStandIn) -> type[BaseHTTPRequestHandler]:
    from tests.standins.github_routes import route

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
            pass

        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            # the path stays percent-encoded, as sent: a label name may hold ':' or '/'
            ex = Exchange(
                method=self.command, path=url.path, query=parse_qs(url.query),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length) if length else b"",
            )
            server.exchanges.append(ex)
            try:
                status, body, headers = self._answer(ex)
            except _Drop:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            payload = b"" if body is None else json.dumps(body).encode()
            headers = {
                "Content-Type": "application/json; charset=utf-8", "Content-Length": str(len(payload)),
                "X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": str(server.rate_remaining), **headers,
            }
            if body is None:
                del headers["Content-Type"]
            ex.status, ex.answer_headers, ex.answer_body = status, headers, payload
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)

        def _answer(self, ex: Exchange) -> Reply:
            fault = server._take_fault(ex.method)
            if fault is not None:
                ex.injected = fault.mode
                if fault.mode == "drop":
                    raise _Drop()
                if fault.mode != "drop_after":
                    return _fault_reply(server, fault)
            auth = ex.headers.get("authorization", "")
            if auth not in (f"token {server.token}", f"Bearer {server.token}"):
                return 401, server.shapes.error("Bad credentials", 401), {}
            try:
                with server.lock:
                    reply = route(server, ex)
            except NotFound:
                reply = 404, server.shapes.error("Not Found", 404), {}
            except Invalid as exc:
                reply = 422, {**server.shapes.error(str(exc), 422), "errors": exc.errors}, {}
            if fault is not None:  # drop_after: applied, but the answer is lost
                raise _Drop()
            return reply

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    return Handler


def _fault_reply(server: GitHubStandIn, fault: _Fault) -> Reply:
    now = int(datetime.now(UTC).timestamp())
    if fault.mode == "rate_limit":
        headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(now + fault.wait)}
        return 403, server.shapes.error("API rate limit exceeded for user ID 1.", 403), headers
    if fault.mode == "secondary":
        message = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
        return 403, server.shapes.error(message, 403), {"Retry-After": str(fault.wait)}
    if fault.mode == "too_many":
        return 429, server.shapes.error("Too Many Requests", 429), {"Retry-After": str(fault.wait)}
    return 502, {"message": "Server Error"}, {}
