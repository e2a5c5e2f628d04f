"""The embedded trace store running in this process: one writer thread and two HTTP servers
(OTLP receiver, query API) on one event loop, like Jaeger's 4318 and 16686.

Sockets are bound before anything starts, so a busy port is one clear ``PrerequisiteError`` and
port 0 works (the kernel's choice is reported through ``Endpoints``).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import uvicorn

from sre_space.errors import PrerequisiteError
from sre_space.stack.tracestore.app import OtlpReceiver, QueryApi
from sre_space.stack.tracestore.reader import SpanReader
from sre_space.stack.tracestore.store import Retention, SpanStore
from sre_space.stack.tracestore.writer import WriterThread


@dataclass(frozen=True)
class StoreConfig:
    """Where the store keeps its file and where it listens."""

    db: Path
    host: str = "127.0.0.1"
    otlp_port: int = 4318
    query_port: int = 16686
    retention: Retention = field(default_factory=Retention)


@dataclass(frozen=True)
class Endpoints:
    """Where a running store answers (what the ready file holds)."""

    host: str
    otlp_port: int
    query_port: int
    pid: int

    @property
    def otlp_endpoint(self) -> str:
        """Full OTLP/HTTP traces URL (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``)."""
        return f"http://{self.host}:{self.otlp_port}/v1/traces"

    @property
    def query_url(self) -> str:
        """Base URL of the Jaeger query API (``JAEGER_QUERY_URL``)."""
        return f"http://{self.host}:{self.query_port}"

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "otlp_endpoint": self.otlp_endpoint, "query_url": self.query_url})

    @classmethod
    def from_json(cls, text: str) -> Endpoints:
        doc = json.loads(text)
        return cls(doc["host"], int(doc["otlp_port"]), int(doc["query_port"]), int(doc["pid"]))


def bind(host: str, port: int, what: str) -> socket.socket:
    """A listening socket on host:port, or a one-line ``PrerequisiteError``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only when it is
    # set, and without it every keep-alive answer waits 40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(1024)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PrerequisiteError(f"trace store: {what} port {port} on {host} is already in use") from exc
        raise PrerequisiteError(f"trace store: cannot listen on {host}:{port} for {what}: {exc.strerror}") from exc
    return sock


def open_store(cfg: StoreConfig, clock: Callable[[], float]) -> SpanStore:
    """The database, or a one-line ``PrerequisiteError`` (unwritable directory, not a database)."""
    try:
        Path(cfg.db).parent.mkdir(parents=True, exist_ok=True)
        return SpanStore(cfg.db, cfg.retention, clock)
    except (OSError, sqlite3.Error) as exc:
        raise PrerequisiteError(f"trace store: cannot open database {cfg.db}: {exc}") from exc


class _Server(uvicorn.Server):
    # The store stops both servers together on its own signal handling, so uvicorn must neither
    # install handlers nor re-raise the signal after shutdown.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class TraceStore:
    """The store in this process. ``await serve()`` runs it until ``stop()``."""

    def __init__(self, config: StoreConfig, clock: Callable[[], float] = time.time) -> None:
        self.config, self.clock = config, clock
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, on_ready: Callable[[Endpoints], None] | None = None) -> None:
        """Bind, open the database, serve until ``stop()``; then drain the writer and close."""
        cfg = self.config
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        sockets = [bind(cfg.host, cfg.otlp_port, "OTLP")]
        try:
            sockets.append(bind(cfg.host, cfg.query_port, "query"))
            writer = WriterThread(open_store(cfg, self.clock))
        except BaseException:
            for sock in sockets:
                sock.close()
            raise
        reader = SpanReader(cfg.db)
        writer.start()
        started = self.clock()
        apps = [OtlpReceiver(writer, started).app(), QueryApi(reader, self.clock).app()]
        servers = [
            _Server(uvicorn.Config(app, log_config=None, log_level="warning", access_log=False, lifespan="off",
                                   timeout_graceful_shutdown=3))
            for app in apps
        ]
        tasks = [asyncio.create_task(s.serve(sockets=[sock])) for s, sock in zip(servers, sockets, strict=True)]
        try:
            while not all(s.started for s in servers) and not any(t.done() for t in tasks):
                await asyncio.sleep(0.005)
            if all(s.started for s in servers):
                ports = [int(sock.getsockname()[1]) for sock in sockets]
                if on_ready:
                    on_ready(Endpoints(cfg.host, ports[0], ports[1], os.getpid()))
                stop = asyncio.create_task(self._stop.wait())
                await asyncio.wait([stop, *tasks], return_when=asyncio.FIRST_COMPLETED)
                stop.cancel()
        finally:
            for server in servers:
                server.should_exit = True
            await asyncio.gather(*tasks, return_exceptions=True)
            for sock in sockets:
                sock.close()
            await asyncio.to_thread(writer.stop)
            reader.close()

    def stop(self) -> None:
        """Ask a serving store to stop (from any thread or a signal handler)."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)


class TraceStoreThread:
    """The store on a background thread of this process (tests, tools): ``start()`` → ``stop()``."""

    def __init__(self, config: StoreConfig, clock: Callable[[], float] = time.time) -> None:
        self.store = TraceStore(config, clock)
        self.endpoints: Endpoints | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="tracestore", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self.store.serve(self._on_ready))
        except BaseException as exc:  # reported to start()'s caller
            self._error = exc
        finally:
            self._ready.set()

    def _on_ready(self, endpoints: Endpoints) -> None:
        self.endpoints = endpoints
        self._ready.set()

    def start(self, timeout: float = 15.0) -> Endpoints:
        """Start and wait until both ports serve; re-raises a start-up failure."""
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise PrerequisiteError(f"trace store did not become ready within {timeout}s")
        if self._error is not None or self.endpoints is None:
            raise self._error or PrerequisiteError("trace store stopped during start-up")
        return self.endpoints

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving, flush the writer, join the thread."""
        self.store.stop()
        self._thread.join(timeout)

    def __enter__(self) -> TraceStoreThread:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
