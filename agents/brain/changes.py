"""Recent changes to the desired state as evidence: each commit to ``fleet.yaml`` in the GitOps
repository, with the services whose spec it changed (found by comparing the file before and
after the commit, not by reading the commit message).

Only the names of what changed are kept (config keys, ``version``, ``replicas``...), never the
values: config entries become the services' environment variables and may hold secrets.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from sre_space.errors import BackendError
from sre_space.models.window import Change, ChangeKind
from sre_space.stack.gitops_repo import FLEET_PATH, FleetRepo

LOOKBACK_US = 30 * 60 * 1_000_000  # as far back as the engine looks for changes
MAX_COMMITS = 20


def fleet_changes(repo_path: Path, since_us: int) -> list[Change]:
    """Changes per service of the commits to ``fleet.yaml`` from ``LOOKBACK_US`` before ``since_us``."""
    repo = FleetRepo(repo_path)
    if not (repo_path / ".git").exists():
        return []
    out: list[Change] = []
    for line in repo.log(MAX_COMMITS):
        sha, when, _subject = (line.split(" ", 2) + [""])[:3]
        time_us = int(datetime.fromisoformat(when).timestamp() * 1_000_000)
        if time_us < since_us - LOOKBACK_US:
            break  # newest first: the rest is older
        before = _doc(repo, f"{sha}^")
        if before is None:
            continue  # the seed commit changes nothing that ran before
        out.extend(diff_services(before, _doc(repo, sha) or {}, time_us, sha))
    return out


def _doc(repo: FleetRepo, rev: str) -> dict[str, Any] | None:
    try:
        doc = yaml.safe_load(repo.git("show", f"{rev}:{FLEET_PATH}"))
    except BackendError:
        return None  # no parent commit
    return doc if isinstance(doc, dict) else {}


def diff_services(before: dict[str, Any], after: dict[str, Any], time_us: int, ref: str) -> list[Change]:
    """One ``Change`` per service whose spec differs between two ``fleet.yaml`` documents."""
    old, new = before.get("services") or {}, after.get("services") or {}
    changes = []
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name) or {}, new.get(name) or {}
        if a == b:
            continue
        keys = sorted(k for k in set(a) | set(b) if k != "config" and a.get(k) != b.get(k))
        ca, cb = a.get("config") or {}, b.get("config") or {}
        config = sorted(k for k in set(ca) | set(cb) if ca.get(k) != cb.get(k))
        kind = (ChangeKind.DEPLOY if {"version", "image", "command"} & set(keys)
                else ChangeKind.SCALE if keys and set(keys) <= {"replicas", "memory_mb", "cpus"}
                else ChangeKind.CONFIG)
        what = [*keys, *(f"config {k}" for k in config)]
        if not a or not b:
            what = ["service added" if not a else "service removed"]
        changes.append(Change(time_us=time_us, service=name, kind=kind, ref=ref,
                              summary=f"fleet.yaml commit {ref} changed {', '.join(what)} (values withheld)"))
    return changes
