"""The incident tracker's JSON API (``sre_space.api.tracker``) served by the stack daemon.

uvicorn runs in a thread of the daemon: the API is small, blocking handlers run in FastAPI's
thread pool, and one process fewer keeps the stack's footprint down. The same tracker backend as
the CLI and the agents is used (local SQLite by default, GitHub when configured).
"""

from __future__ import annotations

import threading
import time

import uvicorn

from sre_space.adapters.tracker import Tracker
from sre_space.api.tracker import tracker_api
from sre_space.errors import PrerequisiteError

READY_TIMEOUT_S = 15.0


class IncidentsServer:
    """``tracker_api(tracker)`` on ``host:port`` until ``stop``."""

    def __init__(self, tracker: Tracker, host: str, port: int) -> None:
        config = uvicorn.Config(tracker_api(tracker), host=host, port=port, log_level="warning",
                                access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="incidents-api", daemon=True)
        self.url = f"http://{host}:{port}"

    def start(self) -> IncidentsServer:
        self.thread.start()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not self.server.started:
            if not self.thread.is_alive():  # uvicorn logs the cause (e.g. the port was taken meanwhile)
                raise PrerequisiteError(f"the incidents API could not listen on {self.url}; see the daemon log")
            if time.monotonic() > deadline:
                raise PrerequisiteError(
                    f"the incidents API was not listening on {self.url} within {READY_TIMEOUT_S:.0f}s")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
