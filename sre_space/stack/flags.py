"""Runtime flags of the fleet's services: one JSON file per service that it re-reads while it
runs (``FLAGS_FILE``). Chaos scenarios and load benchmarks turn these knobs."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def flags_path(home: Path, service: str) -> Path:
    """The runtime-flags file of a service in the stack whose state directory is ``home``."""
    return home / "flags" / f"{service}.json"


def read_flags(home: Path, service: str) -> dict[str, Any]:
    """Current flags of a service ({} when none or unreadable)."""
    try:
        data = json.loads(flags_path(home, service).read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def write_flags(home: Path, service: str, flags: dict[str, Any]) -> None:
    """Replace a service's flags atomically (the service never reads half a file)."""
    path = flags_path(home, service)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(flags, indent=2))
    os.replace(tmp, path)
