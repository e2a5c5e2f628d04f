"""The ground-truth ledger: an append-only JSON-lines file in the state directory.

Only the benchmark and the chaos commands read it; agents never do (DESIGN §6).
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

from pydantic import BaseModel, Field


class LedgerEntry(BaseModel):
    """One injected fault: what, where, when, and what should fix it."""

    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])
    scenario: str
    target: str
    fault_class: str
    expected_mitigation: str
    start: float = Field(default_factory=time.time)
    end: float | None = None
    undo: dict[str, object] = Field(default_factory=dict, description="what to restore when it ends")


class Ledger:
    """Entries are appended; ending a fault appends the entry again with its end time."""

    def __init__(self, home: Path) -> None:
        self.path = home / "chaos" / "ledger.jsonl"

    def append(self, entry: LedgerEntry) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as fh:
            fh.write(entry.model_dump_json() + "\n")

    def entries(self) -> list[LedgerEntry]:
        """The latest record of every fault, in injection order."""
        latest: dict[str, LedgerEntry] = {}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                if line.strip():
                    entry = LedgerEntry.model_validate(json.loads(line))
                    latest[entry.id] = entry
        return list(latest.values())

    def active(self) -> list[LedgerEntry]:
        return [e for e in self.entries() if e.end is None]
