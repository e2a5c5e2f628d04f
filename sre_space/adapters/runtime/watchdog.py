"""The RSS watchdog: the local runtime's memory limit where no writable memory cgroup exists.

It samples the resident memory of every instance (its process and all children) and kills the
instance at its limit, which the supervisor then reports like a kernel OOM kill (exit 137,
``oom_killed``). Sampling is approximate: a process that allocates faster than the interval can
overshoot the limit before it is caught, which a cgroup never allows.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from sre_space.adapters.runtime.supervisor import Supervised


class RssWatchdog:
    """A daemon thread that enforces each instance's ``memory_mb`` by sampling RSS."""

    def __init__(self, instances: Callable[[], Iterable[Supervised]], interval: float = 0.05) -> None:
        self._instances = instances
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sre-rss-watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def check_once(self) -> list[str]:
        """One sampling pass; returns the instances it killed."""
        killed: list[str] = []
        for inst in self._instances():
            rss = inst.rss_mb()
            if rss is not None and rss >= inst.spec.memory_mb:
                inst.kill_over_limit(rss)
                killed.append(inst.name)
        return killed

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.check_once()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
