"""One supervised process of the local runtime: spawn, wait, classify the exit, restart with backoff.

Each instance has one monitor thread blocked in ``wait()``, so an exit is seen the moment it
happens; ``stop`` and ``restart`` wake it through events instead of polling.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil

from sre_space.adapters.runtime.base import InstanceState, InstanceStatus, RuntimeEventKind
from sre_space.adapters.runtime.cgroups import InstanceCgroup, wrap
from sre_space.adapters.runtime.events import EventLog
from sre_space.models.fleet import ServiceSpec

OOM_EXIT_CODE = 137


@dataclass
class Backoff:
    """Restart delays: ``initial`` doubling up to ``maximum``; reset after a run of ``reset_after`` s."""

    initial: float = 0.5
    maximum: float = 30.0
    reset_after: float = 10.0
    _next: float = field(default=0.0, init=False)

    def delay(self, ran_for: float) -> float:
        if self._next == 0.0 or ran_for >= self.reset_after:
            self._next = self.initial
        current = self._next
        self._next = min(self.maximum, current * 2)
        return current


def exit_code_of(returncode: int) -> int:
    """Shell convention: a death by signal N is exit code 128+N (SIGKILL -> 137)."""
    return 128 - returncode if returncode < 0 else returncode


def classify_exit(returncode: int, oom_evidence: bool) -> tuple[int, bool]:
    """(exit code, oom_killed): an OOM kill is a SIGKILL/137 with evidence from cgroup or watchdog."""
    code = exit_code_of(returncode)
    return code, oom_evidence and code == OOM_EXIT_CODE


@dataclass(frozen=True)
class Launch:
    """Everything needed to (re)start one instance's process."""

    argv: list[str]
    env: dict[str, str]
    log_path: Path
    cwd: Path | None
    port: int | None
    stop_timeout: float


class Supervised:
    """One running copy of a service, kept alive until ``stop``."""

    def __init__(
        self,
        spec: ServiceSpec,
        index: int,
        launch: Launch,
        events: EventLog,
        backoff: Backoff,
        cgroup: InstanceCgroup | None,
    ) -> None:
        self.spec, self.index, self.launch = spec, index, launch
        self.name = f"{spec.name}-{index}"
        self.cgroup = cgroup
        self._events, self._backoff = events, backoff
        self._lock = threading.Lock()
        self._spawn_lock = threading.Lock()  # stop() never races a respawn
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._spawned = threading.Event()
        self._restart_requested = False
        self._over_limit = False
        self._proc: subprocess.Popen[bytes] | None = None
        self._status = InstanceStatus.STARTING
        self._exit_code: int | None = None
        self._oom_killed = False
        self._restart_count = 0
        self._started_at: float = 0.0
        self._thread = threading.Thread(target=self._monitor, name=f"sre-supervise-{self.name}", daemon=True)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Spawn the first process (errors reach the caller), then supervise it."""
        self._spawn()
        self._events.add(self.spec.name, self.name, RuntimeEventKind.STARTED, detail=f"pid {self.pid}")
        self._spawned.set()
        self._thread.start()

    def _spawn(self) -> None:
        argv = self.launch.argv
        if self.cgroup is not None:
            self.cgroup.begin()
            argv = wrap(argv, self.cgroup.procs_files)
        with open(self.launch.log_path, "ab") as log:
            proc = subprocess.Popen(  # noqa: S603 - argv comes from the desired state
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.launch.env,
                cwd=self.launch.cwd,
                start_new_session=True,
            )
        with self._lock:
            self._proc, self._over_limit = proc, False
            self._status, self._started_at = InstanceStatus.RUNNING, time.time()

    def _monitor(self) -> None:
        while True:
            proc = self._proc
            assert proc is not None
            returncode = proc.wait()
            ran_for = time.time() - self._started_at
            self._kill_leftovers(proc.pid)
            if self._stopping.is_set():
                return
            with self._lock:
                manual, self._restart_requested = self._restart_requested, False
            delay = 0.0 if manual else self._record_exit(returncode, ran_for)
            if not self._respawn(delay):
                return

    def _record_exit(self, returncode: int, ran_for: float) -> float:
        evidence = self._over_limit or (self.cgroup is not None and self.cgroup.oom_evidence())
        code, oom = classify_exit(returncode, evidence)
        with self._lock:
            self._exit_code, self._oom_killed = code, oom
            self._status = InstanceStatus.RESTARTING
        kind = RuntimeEventKind.OOM_KILLED if oom else RuntimeEventKind.EXITED
        detail = f"memory limit {self.spec.memory_mb} MB" if oom else f"ran {ran_for:.1f}s"
        self._events.add(self.spec.name, self.name, kind, exit_code=code, detail=detail)
        return self._backoff.delay(ran_for)

    def _respawn(self, delay: float) -> bool:
        """Wait out the backoff (cut short by stop/restart), then spawn; False once stopping."""
        while True:
            self._wake.wait(delay)
            self._wake.clear()
            with self._lock:
                self._restart_requested = False  # a restart asked during the backoff is this one
            try:
                with self._spawn_lock:
                    if self._stopping.is_set():
                        return False
                    self._spawn()
            except OSError as exc:
                with self._lock:
                    self._exit_code, self._oom_killed = 127, False
                self._events.add(self.spec.name, self.name, RuntimeEventKind.EXITED, 127, f"spawn failed: {exc}")
                delay = self._backoff.delay(0.0)
                continue
            with self._lock:
                self._restart_count += 1
            self._events.add(self.spec.name, self.name, RuntimeEventKind.RESTARTED, detail=f"pid {self.pid}")
            # Only now does ``restart`` return: its event and count are in place when the caller looks.
            self._spawned.set()
            return True

    def _kill_leftovers(self, pid: int) -> None:
        # Children that outlive the main process would keep the port and the memory.
        if self.cgroup is not None:
            self.cgroup.kill_all()
        else:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)

    def _terminate(self) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=self.launch.stop_timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def restart(self, timeout: float = 30.0) -> None:
        """Replace the process now (no backoff); returns once the new one is spawned."""
        with self._lock:
            self._restart_requested = True
            self._spawned.clear()
        self._wake.set()
        self._terminate()
        self._spawned.wait(timeout)

    def stop(self) -> None:
        """Terminate (SIGTERM, then SIGKILL after ``stop_timeout``) and stop supervising."""
        with self._spawn_lock:
            self._stopping.set()
        self._wake.set()
        self._terminate()
        if self._thread.is_alive():
            self._thread.join(self.launch.stop_timeout + 5)
        proc = self._proc
        if proc is not None:
            self._kill_leftovers(proc.pid)
        with self._lock:
            self._status = InstanceStatus.STOPPED
        if self.cgroup is not None:
            self.cgroup.remove()
        self._events.add(self.spec.name, self.name, RuntimeEventKind.STOPPED)

    def kill_over_limit(self, rss_mb: float) -> None:
        """Watchdog verdict: the instance passed its memory limit; end it like the kernel would."""
        proc = self._proc
        with self._lock:
            if proc is None or proc.poll() is not None or self._stopping.is_set():
                return
            self._over_limit = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)

    # -- observation -----------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def rss_mb(self) -> float | None:
        """Resident memory of the process and its children (what the watchdog compares)."""
        pid = self.pid
        if pid is None:
            return None
        try:
            parent = psutil.Process(pid)
            procs = [parent, *parent.children(recursive=True)]
        except psutil.Error:
            return None
        total = 0
        for p in procs:
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        return total / (1024 * 1024)

    def snapshot(self) -> InstanceState:
        with self._lock:
            status, exit_code, oom = self._status, self._exit_code, self._oom_killed
            restarts, started = self._restart_count, self._started_at
        running = status == InstanceStatus.RUNNING
        return InstanceState(
            service=self.spec.name,
            instance=self.name,
            status=status,
            pid=self.pid if running else None,
            port=self.launch.port,
            exit_code=exit_code,
            oom_killed=oom,
            restart_count=restarts,
            started_at=datetime.fromtimestamp(started, UTC) if started else None,
            memory_limit_mb=self.spec.memory_mb,
            rss_mb=self.rss_mb() if running else None,
            version=self.spec.version,
        )
