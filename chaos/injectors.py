"""Turn a scenario's knob on the running stack, and back. Ground truth goes to the ledger only."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml

from chaos.ledger import Ledger, LedgerEntry
from chaos.scenarios import CATALOGUE, Knob, Scenario
from sre_space.errors import ConfigError
from sre_space.stack.flags import read_flags, write_flags
from sre_space.stack.gitops_repo import FLEET_PATH, FleetRepo
from sre_space.stack.launcher import control


def scenario(name: str) -> Scenario:
    try:
        return CATALOGUE[name]
    except KeyError:
        raise ConfigError(f"unknown scenario {name!r}; known: {', '.join(sorted(CATALOGUE))}") from None


def inject(home: Path, name: str, target: str | None = None) -> LedgerEntry:
    """Start a scenario on ``target`` (default: the scenario's own) and record its ground truth."""
    sc = scenario(name)
    service = target or sc.target
    control(home, "GET", "/status")  # refuse early when no stack runs
    undo: dict[str, object] = {}
    if sc.knob == Knob.FLAG:
        flags = read_flags(home, service)
        undo = {"flags": {k: flags.get(k) for k in sc.flags}}
        write_flags(home, service, {**flags, **sc.flags})
    elif sc.knob == Knob.RUNTIME:
        control(home, "POST", f"/services/{service}/stop")
    else:
        undo = {"config": _change_config(home, service, sc.config_change)}
    entry = LedgerEntry(
        scenario=sc.name, target=service, fault_class=sc.fault_class,
        expected_mitigation=sc.expected_mitigation, undo=undo,
    )
    Ledger(home).append(entry)
    return entry


def revert(home: Path, entry: LedgerEntry) -> LedgerEntry:
    """End a fault: restore the knob and close its ledger entry."""
    sc = scenario(entry.scenario)
    if sc.knob == Knob.FLAG:
        flags = read_flags(home, entry.target)
        for key, old in dict(entry.undo.get("flags", {})).items():  # type: ignore[call-overload]
            if old is None:
                flags.pop(key, None)
            else:
                flags[key] = old
        write_flags(home, entry.target, flags)
    elif sc.knob == Knob.RUNTIME:
        control(home, "POST", f"/services/{entry.target}/start")
    else:
        _change_config(home, entry.target, dict(entry.undo.get("config", {})))  # type: ignore[call-overload]
    ended = entry.model_copy(update={"end": time.time()})
    Ledger(home).append(ended)
    return ended


def _change_config(home: Path, service: str, change: dict[str, Any]) -> dict[str, Any]:
    """Commit a config change to the desired state and apply it; return the previous values."""
    repo = FleetRepo(home / "gitops")
    doc = yaml.safe_load(repo.git("show", f"main:{FLEET_PATH}"))
    config = doc["services"][service].setdefault("config", {})
    previous = {k: config.get(k) for k in change}
    for key, value in change.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    summary = ", ".join(f"{k}={v}" for k, v in change.items())
    repo.commit(yaml.safe_dump(doc, sort_keys=False), f"Tune {service}: {summary}")
    control(home, "POST", "/reconcile")
    return previous
