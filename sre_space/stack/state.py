"""The stack's state file (``<home>/stack.json``): written by the daemon, read by the CLI.

It is how ``sre-space up`` shows progress, how ``status`` finds the control API and how
``down`` finds every process to stop, even when the daemon itself has died.
"""

from __future__ import annotations

import enum
import json
import os
import time
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError


class Phase(enum.StrEnum):
    STARTING = "starting"
    READY = "ready"
    FAILED = "failed"
    STOPPING = "stopping"
    STOPPED = "stopped"


class ComponentState(BaseModel):
    """One part of the stack as the daemon last saw it."""

    name: str
    status: str = "pending"  # pending | starting | ready | failed | stopped | external
    url: str | None = None
    pid: int | None = None
    detail: str = ""
    seconds: float | None = Field(default=None, description="time from the daemon's start until ready")


class StackState(BaseModel):
    """Everything the CLI needs to know about a running (or failed) stack."""

    daemon_pid: int
    started_at: float = Field(default_factory=time.time)
    phase: Phase = Phase.STARTING
    error: str | None = None
    control_url: str | None = None
    components: list[ComponentState] = Field(default_factory=list)
    pids: list[int] = Field(default_factory=list, description="every process the stack started")

    def component(self, name: str) -> ComponentState:
        for comp in self.components:
            if comp.name == name:
                return comp
        comp = ComponentState(name=name)
        self.components.append(comp)
        return comp


def state_path(home: Path) -> Path:
    return home / "stack.json"


def write_state(home: Path, state: StackState) -> None:
    """Atomically replace the state file (readers never see half a file)."""
    path = state_path(home)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(state.model_dump_json(indent=2))
    os.replace(tmp, path)


def read_state(home: Path) -> StackState | None:
    """The state file, or None when there is none (or it is unreadable)."""
    try:
        return StackState.model_validate(json.loads(state_path(home).read_text()))
    except (OSError, ValueError, ValidationError):
        return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive for our purposes
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True
