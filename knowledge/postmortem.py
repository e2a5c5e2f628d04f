"""Memory's learning step: what was tried on an incident and how it ended.

Minimal until the Memory issue lands: each outcome is appended as one JSON line to
``<home>/memory/outcomes.jsonl`` (idempotent per incident run), which a later recall can index.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUTCOMES = Path("memory") / "outcomes.jsonl"


def record_outcome(home: Path, key: str, outcome: dict[str, Any]) -> bool:
    """Append ``outcome`` under ``key`` unless that key is already recorded; True when written."""
    path = home / OUTCOMES
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                if json.loads(line).get("key") == key:
                    return False
            except ValueError:
                continue  # a torn line from a crash
    with path.open("a") as out:
        out.write(json.dumps({"key": key, **outcome}, sort_keys=True, default=str) + "\n")
    return True
