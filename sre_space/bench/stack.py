"""``sre-space bench stack``: seconds from ``up`` to all-ready, RSS of the whole embedded stack at
rest and under load, journeys per second and p50/p95 journey latency at steady state.

It starts a private stack (free ports, temporary state directory, no background traffic), measures
RSS at rest, then turns the traffic generator's ``journeys_per_second`` runtime flag up to ``rate``
and reads the generator's own journey statistics after ``load_seconds``.
"""

from __future__ import annotations

import json
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
from pydantic import BaseModel

from sre_space.config import Settings
from sre_space.stack import launcher
from sre_space.stack.flags import write_flags
from sre_space.stack.state import StackState, read_state

SETTLE_SECONDS = 5.0
WARMUP_SECONDS = 5.0
DRAIN_SECONDS = 5.0


class StackBench(BaseModel):
    """Measured figures of one run (nothing here is asserted)."""

    ready_seconds: float
    processes: int
    rss_rest_mb: float
    rss_load_mb: float
    rate_requested: float
    load_seconds: float
    journeys: int
    journeys_per_second: float
    outcomes: dict[str, int]
    p50_ms: float | None
    p95_ms: float | None


def stack_rss_mb(state: StackState) -> tuple[int, float]:
    """Number of processes and total RSS of the daemon and everything under it."""
    procs: dict[int, psutil.Process] = {}
    for pid in [state.daemon_pid, *state.pids]:
        try:
            proc = psutil.Process(pid)
            procs[pid] = proc
            for child in proc.children(recursive=True):
                procs[child.pid] = child
        except psutil.NoSuchProcess:
            continue
    total = 0
    for proc in procs.values():
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return len(procs), total / 2**20


def run(settings: Settings, load_seconds: float = 30.0, rate: float = 20.0) -> StackBench:
    home = Path(tempfile.mkdtemp(prefix="sre-bench-"))
    private = settings.model_copy(
        update={"home": home, "ports": settings.ports.model_copy(update={"auto": True}), "traffic_rate": 0.0}
    )
    t0 = time.monotonic()
    launcher.up(private, out=lambda _line: None)
    ready = time.monotonic() - t0
    try:
        time.sleep(SETTLE_SECONDS)  # a measurement window, not a wait for a condition
        state = read_state(home)
        assert state is not None
        processes, rest = stack_rss_mb(state)
        write_flags(home, "traffic", {"journeys_per_second": rate})
        # The first seconds ramp up (consumer group join, connection pools): measure steady state.
        time.sleep(WARMUP_SECONDS)
        window_start = time.time()
        peak = rest
        end = time.monotonic() + load_seconds
        while time.monotonic() < end:
            time.sleep(1.0)
            peak = max(peak, stack_rss_mb(state)[1])
        window_end = time.time()
        write_flags(home, "traffic", {"journeys_per_second": 0})
        time.sleep(DRAIN_SECONDS)  # let journeys started in the window finish and be recorded
    finally:
        launcher.stop_daemon(home)
    journeys = journeys_started_in(home / "data" / "traffic" / "journeys.jsonl", window_start, window_end)
    latencies = sorted(float(j["latency_ms"]) for j in journeys)
    outcomes: dict[str, int] = {}
    for j in journeys:
        outcomes[j["outcome"]] = outcomes.get(j["outcome"], 0) + 1
    return StackBench(
        ready_seconds=round(ready, 2), processes=processes, rss_rest_mb=round(rest, 1), rss_load_mb=round(peak, 1),
        rate_requested=rate, load_seconds=load_seconds, journeys=len(journeys),
        journeys_per_second=round(len(journeys) / load_seconds, 2), outcomes=outcomes,
        p50_ms=_percentile(latencies, 0.50), p95_ms=_percentile(latencies, 0.95),
    )


def journeys_started_in(journal: Path, start: float, end: float) -> list[dict[str, Any]]:
    """Journeys recorded by the traffic generator that started within [start, end)."""
    found = []
    for line in journal.read_text().splitlines() if journal.exists() else []:
        record = json.loads(line)
        finished = datetime.fromisoformat(record["time"]).timestamp()
        began = finished - float(record["latency_ms"]) / 1000
        if start <= began < end:
            found.append(record)
    return found


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return round(values[min(len(values) - 1, int(q * len(values)))], 1)


def render(result: StackBench) -> str:
    lines = [
        f"up → all ready:          {result.ready_seconds:.1f} s",
        f"RSS at rest:             {result.rss_rest_mb:.0f} MB over {result.processes} processes",
        f"RSS under load (peak):   {result.rss_load_mb:.0f} MB",
        f"load:                    {result.rate_requested:g} journeys/s requested for {result.load_seconds:g} s",
        f"journeys completed:      {result.journeys} ({result.journeys_per_second:.1f}/s) {result.outcomes}",
        f"journey latency:         p50 {result.p50_ms} ms, p95 {result.p95_ms} ms",
    ]
    return "\n".join(lines)
