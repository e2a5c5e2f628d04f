"""File helpers shared by dataset adapters: reading ``.csv`` and ``.csv.gz``, minute files by
time, and pod-to-service names."""

from __future__ import annotations

import csv
import gzip
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from sre_space.errors import ConfigError

# Kubernetes pod names: deployment pods end in -<replicaset hash>-<5 chars>, statefulset pods in -<n>.
_DEPLOYMENT_POD = re.compile(r"^(?P<service>.+?)-[a-z0-9]{6,10}-[a-z0-9]{5}$")
_STATEFUL_POD = re.compile(r"^(?P<service>.+?)-\d+$")
_MINUTE_FILE = re.compile(r"^(?P<h>\d\d)_(?P<m>\d\d)_")


def service_of(pod: str) -> str:
    """Service name of a pod, by name only (pods are recreated between days)."""
    for pattern in (_DEPLOYMENT_POD, _STATEFUL_POD):
        match = pattern.match(pod)
        if match:
            return match["service"]
    return pod


def read_rows(path: Path) -> Iterator[dict[str, str]]:
    """Rows of a CSV file with a header, plain or gzipped."""
    try:
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", newline="") as handle:
            yield from csv.DictReader(handle)
    except (OSError, csv.Error, EOFError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc


def minute_files(folder: Path, kind: str, start_us: int, end_us: int) -> list[Path]:
    """``HH_MM_<kind>.csv[.gz]`` files of a day folder that may hold data of ``[start, end)``.

    A minute file holds roughly the minute before its name, but not exactly (one file of the
    public data spans three minutes), so the margins are generous and callers filter by time."""
    try:
        midnight = datetime.strptime(folder.parent.name, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    except ValueError:
        midnight = None
    out = []
    for path in sorted(folder.glob(f"*_{kind}.csv*")):
        match = _MINUTE_FILE.match(path.name)
        if match is None or midnight is None:
            out.append(path)
            continue
        minute_us = int(midnight + int(match["h"]) * 3600 + int(match["m"]) * 60) * 1_000_000
        if start_us - 60_000_000 <= minute_us <= end_us + 120_000_000:
            out.append(path)
    return out
