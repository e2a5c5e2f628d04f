"""The embedded trace store as a child process, for the launcher, the tests and the benchmark.

``TraceStoreProcess(db, otlp_port, query_port).start()`` spawns
``python -m sre_space.stack.tracestore`` and waits until its ready file appears (both ports
listen), or until it exits, in which case its one-line error becomes a ``PrerequisiteError``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from sre_space.errors import PrerequisiteError
from sre_space.stack.processes import stop_process
from sre_space.stack.tracestore.server import Endpoints
from sre_space.stack.tracestore.store import Retention


class TraceStoreProcess:
    """A trace store child process; a context manager, or ``start()``/``stop()``."""

    def __init__(self, db: Path, otlp_port: int = 0, query_port: int = 0, host: str = "127.0.0.1",
                 log_path: Path | None = None, retention: Retention | None = None) -> None:
        self.db, self.host, self.otlp_port, self.query_port = Path(db), host, otlp_port, query_port
        self.log_path = log_path or self.db.with_suffix(".log")
        self.ready_file = self.db.with_suffix(".ready.json")
        self.retention = retention or Retention()
        self.process: subprocess.Popen[bytes] | None = None
        self.endpoints: Endpoints | None = None

    def command(self) -> list[str]:
        r = self.retention
        return [sys.executable, "-m", "sre_space.stack.tracestore", "--db", str(self.db), "--host", self.host,
                "--otlp-port", str(self.otlp_port), "--query-port", str(self.query_port),
                "--ready-file", str(self.ready_file), "--max-age", f"{r.max_age_s * 1000:.0f}ms",
                "--max-spans", str(r.max_spans)]

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def otlp_endpoint(self) -> str:
        return self._ready().otlp_endpoint

    @property
    def query_url(self) -> str:
        return self._ready().query_url

    def _ready(self) -> Endpoints:
        if self.endpoints is None:
            raise PrerequisiteError("trace store is not running")
        return self.endpoints

    def start(self, timeout: float = 20.0) -> TraceStoreProcess:
        """Spawn and wait (polling the ready file) until both ports serve."""
        self.db.parent.mkdir(parents=True, exist_ok=True)
        self.ready_file.unlink(missing_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not self.ready_file.exists():
            code = self.process.poll()
            if code is not None:
                self.process = None
                raise PrerequisiteError(self._last_error(code))
            if time.monotonic() > deadline:
                self.stop()
                raise PrerequisiteError(f"trace store did not become ready within {timeout}s (log: {self.log_path})")
            time.sleep(0.02)
        self.endpoints = Endpoints.from_json(self.ready_file.read_text())
        return self

    def _last_error(self, code: int) -> str:
        lines = self.log_path.read_text(errors="replace").strip().splitlines() if self.log_path.exists() else []
        last = lines[-1] if lines else ""
        return last if last.startswith("trace store") else f"trace store exited with code {code}: {last}"

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, wait for the clean exit (the writer flushes), SIGKILL if it hangs."""
        proc, self.process, self.endpoints = self.process, None, None
        stop_process(proc, timeout)

    def __enter__(self) -> TraceStoreProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
