"""``sre-space up`` / ``down`` / ``status``: start the stack daemon, follow its progress, stop it.

The daemon owns the processes; these functions only talk to it (state file, signals, control
API), so the CLI, ``mission-control.sh``, the tests and the benchmarks share one code path.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from sre_space.config import Settings, process_environment
from sre_space.errors import BackendUnavailable, SREError
from sre_space.models.fleet import load_fleet
from sre_space.stack.state import Phase, StackState, pid_alive, read_state

UP_TIMEOUT_S = 300.0
# Scout and the workflow call the control API every second or two: reuse one pooled client.
_CONTROL_CLIENT = httpx.Client(timeout=30.0)
DOWN_TIMEOUT_S = 30.0
Printer = Callable[[str], None]


def running_state(home: Path) -> StackState | None:
    """The state of a stack whose daemon is alive, else None."""
    state = read_state(home)
    if state and pid_alive(state.daemon_pid) and state.phase in (Phase.STARTING, Phase.READY):
        return state
    return None


def up(settings: Settings, out: Printer = print, timeout: float = UP_TIMEOUT_S) -> StackState:
    """Start the stack daemon and return once every component is ready (raise on failure)."""
    home = settings.home.resolve()
    existing = running_state(home)
    if existing:
        out(f"already running (daemon pid {existing.daemon_pid}); `sre-space status` shows it")
        return existing
    load_fleet(settings.fleet_file)  # a broken fleet file fails here, before anything starts
    (home / "logs").mkdir(parents=True, exist_ok=True)
    (home / "stack.json").unlink(missing_ok=True)
    env = {
        **process_environment(),
        "SRE_SPACE_HOME": str(home),
        "SRE_FLEET_FILE": str(settings.fleet_file.resolve()),
    }
    with open(home / "logs" / "daemon.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sre_space.stack.daemon"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True,
        )
    return _follow(home, proc, out, timeout)


def _follow(home: Path, proc: subprocess.Popen[bytes], out: Printer, timeout: float) -> StackState:
    shown: set[str] = set()
    deadline = time.monotonic() + timeout
    while True:
        state = read_state(home)
        if state:
            for comp in state.components:
                key = f"{comp.name}:{comp.status}"
                if comp.status in {"ready", "external", "failed"} and key not in shown:
                    shown.add(key)
                    mark = "✘" if comp.status == "failed" else "✔"
                    extra = " ".join(x for x in (comp.url or "", comp.detail) if x)
                    secs = f"({comp.seconds:.1f}s)" if comp.seconds is not None else ""
                    out(f"  {mark} {comp.name:<15} {extra} {secs}".rstrip())
            if state.phase == Phase.READY:
                return state
            if state.phase == Phase.FAILED:
                proc.wait(DOWN_TIMEOUT_S)
                raise SREError(f"start-up failed: {state.error}")
        if proc.poll() is not None:
            tail = _tail(home / "logs" / "daemon.log", 3)
            raise SREError(f"the stack daemon exited with code {proc.returncode}: {tail}")
        if time.monotonic() > deadline:
            stop_daemon(home)
            raise SREError(f"the stack was not ready within {timeout:.0f}s; see {home}/logs/daemon.log")
        time.sleep(0.1)


def _tail(path: Path, lines: int) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "no log"


def stop_daemon(home: Path, timeout: float = DOWN_TIMEOUT_S) -> bool:
    """SIGTERM the daemon, wait, then kill anything it recorded that is still alive.

    Returns False when no stack was running."""
    state = read_state(home)
    pidfile = home / "daemon.pid"
    pid = state.daemon_pid if state else (int(pidfile.read_text()) if pidfile.exists() else None)
    if pid is None or not pid_alive(pid):
        leftovers = [p for p in (state.pids if state else []) if pid_alive(p)]
        _kill_all(leftovers)
        return bool(leftovers)
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    state = read_state(home) or state
    _kill_all([pid, *(state.pids if state else [])])
    return True


def _kill_all(pids: list[int]) -> None:
    """Last resort for processes a dead daemon could not stop: kill their process groups."""
    for pid in pids:
        if not pid_alive(pid):
            continue
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def control(home: Path, method: str, path: str, **params: Any) -> Any:
    """Call the running daemon's control API."""
    state = running_state(home)
    if state is None or state.control_url is None:
        raise BackendUnavailable("the stack is not running: start it with `sre-space up`")
    try:
        resp = _CONTROL_CLIENT.request(method, state.control_url + path, params=params or None)
    except httpx.HTTPError as exc:
        raise BackendUnavailable(f"control API at {state.control_url} unreachable: {exc}") from exc
    body = resp.json()
    if resp.status_code >= 400:
        raise SREError(str(body.get("error", body)))
    return body
