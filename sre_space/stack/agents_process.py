"""The control plane (``sre-space agents``) as a supervised child of the stack daemon."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path

from sre_space.commands.agents import ready_file
from sre_space.errors import PrerequisiteError
from sre_space.stack.processes import stop_process

log = logging.getLogger(__name__)
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 35.0


class AgentsProcess:
    """Starts ``sre-space agents``, waits until it reports ready, restarts it if it dies."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home, self.env = home, env
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> AgentsProcess:
        ready_file(self.home).unlink(missing_ok=True)
        with open(self.home / "logs" / "agents.log", "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "sre_space.cli", "agents"], env=self.env, stdout=out,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not ready_file(self.home).exists():
            if self.process.poll() is not None:
                raise PrerequisiteError(
                    f"the control plane exited with code {self.process.returncode}; see {self.home}/logs/agents.log"
                )
            if time.monotonic() > deadline:
                raise PrerequisiteError(f"the control plane was not ready within {READY_TIMEOUT_S:.0f}s")
            time.sleep(0.1)
        return self

    def keep_alive(self) -> bool:
        """Restart the control plane if it died; True when it was restarted."""
        if self.process is None or self.process.poll() is None:
            return False
        log.warning("control plane exited with %s; restarting it", self.process.returncode)
        self.restarts += 1
        self.start()
        return True

    def stop(self) -> None:
        proc, self.process = self.process, None
        stop_process(proc, STOP_TIMEOUT_S)
