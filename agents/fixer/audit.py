"""The audit log: append-only JSON lines at ``<home>/audit.jsonl`` (what, why, who, when, outcome).

Every side effect writes a ``before`` record before it runs and an ``after`` record once it has
run, both carrying the action's idempotency key (incident + step + attempt). A key with an
``after`` is done; a key with only a ``before`` was interrupted (``kill -9``) and the caller must
look at the world before acting again. Several processes may append at once: each record is one
``write`` of one line under an exclusive ``flock``, then ``fsync``.
"""

from __future__ import annotations

import enum
import fcntl
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

AUDIT_FILE = "audit.jsonl"


class Phase(enum.StrEnum):
    BEFORE = "before"
    AFTER = "after"


class Outcome(enum.StrEnum):
    """How an action ended: done now, found done on resume, or failed."""

    OK = "ok"
    FOUND_DONE = "found_done"
    ERROR = "error"


def idempotency_key(incident: int, step: str, attempt: str | int) -> str:
    """The one key of a side effect: ``incident-7/act/1.2`` (run 1, attempt 2)."""
    return f"incident-{incident}/{step}/{attempt}"


class AuditRecord(BaseModel):
    """One line of the audit log."""

    model_config = ConfigDict(frozen=True)

    schema_version: int = 1
    key: str
    phase: Phase
    incident: int
    what: str = Field(description="the action and its target, e.g. 'restart user-service'")
    why: str = ""
    who: str = Field(description="the worker that acted")
    when: datetime = Field(default_factory=lambda: datetime.now(UTC))
    outcome: Outcome | None = None
    detail: str = ""
    world: dict[str, Any] = Field(default_factory=dict, description="what was observed around the action")


class AuditLog:
    """Append and read the audit log of one state directory."""

    def __init__(self, home: Path) -> None:
        self.path = home / AUDIT_FILE

    def append(self, record: AuditRecord) -> AuditRecord:
        line = (record.model_dump_json() + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)  # closing releases the lock
        return record

    def records(self, key: str | None = None) -> list[AuditRecord]:
        """Every record (of one key), oldest first; a torn last line from a crash is skipped."""
        return [r for r in self._read() if key is None or r.key == key]

    def last(self, key: str, phase: Phase) -> AuditRecord | None:
        found = [r for r in self.records(key) if r.phase == phase]
        return found[-1] if found else None

    def _read(self) -> Iterator[AuditRecord]:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return
        for line in text.splitlines():
            try:
                yield AuditRecord.model_validate(json.loads(line))
            except (ValueError, ValidationError):
                continue
