"""The workers' run store: work items in, lock rows (leases) that keep two workers off one incident,
including after a rebalance, an expiry, or the holder's ``kill -9``."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agents.runs import Owner, RunState, RunStore
from sre_space.models.events import IncidentWorkItem, WorkItemKind


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def item(number: int, kind: WorkItemKind = WorkItemKind.OPENED) -> IncidentWorkItem:
    return IncidentWorkItem(incident=number, kind=kind, fingerprint="s:exited", service="s", signal="exited",
                            severity=2, time=datetime(2025, 1, 1, tzinfo=UTC))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> RunStore:
    return RunStore(tmp_path / "workflow.db", now=clock)


# two workers of this (live) process, as when ``sre-space agents`` runs several
A = Owner("a", "host-1", os.getpid())
B = Owner("b", "host-1", os.getpid())


@pytest.mark.parametrize(
    ("kinds", "registered", "run"),
    [
        ([WorkItemKind.OPENED], [True], 1),
        ([WorkItemKind.OPENED, WorkItemKind.OPENED], [True, False], 1),  # a redelivery
        ([WorkItemKind.OPENED, WorkItemKind.UPDATED], [True, False], 1),  # a repeat of the symptom
        ([WorkItemKind.UPDATED], [True], 1),  # the "opened" was lost: still a run
        ([WorkItemKind.RESOLVED], [False], None),  # resolved before any run: nothing to do
        ([WorkItemKind.OPENED, WorkItemKind.REOPENED], [True, False], 1),  # run under way: no second run
    ],
)
def test_register(store: RunStore, kinds: list[WorkItemKind], registered: list[bool], run: int | None) -> None:
    assert [store.register(item(1, k), 2) for k in kinds] == registered
    row = store.get(1)
    assert (row.run if row else None) == run


def test_a_reopen_after_a_finished_run_starts_run_two(store: RunStore) -> None:
    store.register(item(1), 0)
    assert store.acquire(1, A, 30)
    store.release(1, A, RunState.DONE, run=1)
    assert store.runnable([0]) == []
    assert store.register(item(1, WorkItemKind.REOPENED), 0)
    [row] = store.runnable([0])
    assert (row.run, row.state) == (2, RunState.PENDING)


def test_a_reopen_during_a_run_is_kept_when_the_run_ends(store: RunStore) -> None:
    store.register(item(1), 0)
    store.acquire(1, A, 30)
    store.release(1, A, RunState.DONE, run=1)
    store.register(item(1, WorkItemKind.REOPENED), 0)
    store.acquire(1, A, 30)
    store.release(1, A, RunState.DONE, run=1)  # a worker still finishing run 1 must not hide run 2
    assert store.get(1).state == RunState.PENDING  # type: ignore[union-attr]


def test_runnable_follows_partitions_and_retry_times(store: RunStore, clock: Clock) -> None:
    store.register(item(1), 0)
    store.register(item(2), 3)
    assert [r.incident for r in store.runnable([0, 1])] == [1]
    assert [r.incident for r in store.runnable([])] == []
    store.acquire(2, A, 30)
    store.release(2, A, RunState.WAITING, run=1, retry_in=2.0)
    assert store.runnable([3]) == []
    clock.t += 2.0
    assert [(r.incident, r.state) for r in store.runnable([3])] == [(2, RunState.WAITING)]


def test_a_live_lease_keeps_a_second_worker_off(store: RunStore, clock: Clock) -> None:
    store.register(item(1), 0)
    assert store.acquire(1, A, 30)
    assert store.acquire(1, A, 30)  # re-entrant for its holder
    assert not store.acquire(1, B, 30)  # e.g. B got the partition in a rebalance mid-run
    clock.t += 20
    store.renew([1], A, 30)
    clock.t += 20
    assert not store.acquire(1, B, 30)  # renewed: still A's
    clock.t += 11
    assert store.acquire(1, B, 30)  # A stopped renewing: expired
    store.release(1, A, RunState.DONE, run=1)  # A's late release does not touch B's lease
    assert not store.acquire(1, A, 30)


def test_the_lease_of_a_killed_process_is_free_at_once(store: RunStore) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    holder = Owner("killed", B.host, int(dead.stdout))
    store.register(item(1), 0)
    assert store.acquire(1, holder, 300)
    assert store.acquire(1, A, 30)  # same host, holder's pid is gone


def test_acquire_of_an_unknown_incident_fails(store: RunStore) -> None:
    assert not store.acquire(42, A, 30)
