"""Readiness for any runtime: poll every instance's HTTP health path until all answer 2xx."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request

from sre_space.adapters.runtime.base import InstanceStatus, Runtime, ServiceState
from sre_space.errors import BackendRejected, BackendUnavailable

HOST = "127.0.0.1"


def probe(url: str, timeout: float = 1.0) -> bool:
    """True when ``url`` answers with a 2xx status."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - our own http URL
            return 200 <= int(response.status) < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_ready(
    runtime: Runtime, service: str, timeout: float = 30.0, path: str | None = None, interval: float = 0.05
) -> ServiceState:
    """Wait until every instance of ``service`` runs and answers ``path`` (the spec's health path).

    Raises ``BackendRejected`` for a service without an HTTP port and ``BackendUnavailable``
    (naming the last state and log line) when the deadline passes.
    """
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    state = runtime.state(service)
    while True:
        if state.spec is not None and state.spec.port is None:
            raise BackendRejected(f"{service}: has no HTTP port to probe")
        if _all_ready(state, path):
            return state
        if time.monotonic() >= deadline:
            break
        pause.wait(interval)
        state = runtime.state(service)
    summary = ", ".join(f"{i.instance} {i.status} exit={i.exit_code}" for i in state.instances) or "no instances"
    last = (runtime.logs(service, tail=1) or ["no output"])[-1]
    raise BackendUnavailable(f"{service}: not ready after {timeout:.0f}s ({summary}; last log: {last[:200]})")


def _all_ready(state: ServiceState, path: str | None) -> bool:
    if state.spec is None or not state.instances:
        return False
    route = path or state.spec.health_path
    for inst in state.instances:
        if inst.status != InstanceStatus.RUNNING or inst.port is None:
            return False
        if not probe(f"http://{HOST}:{inst.port}{route}"):
            return False
    return True
