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
from pathlib import Path

import httpx
import psutil
from pydantic import BaseModel

from sre_space.config import Settings
from sre_space.stack import launcher
from sre_space.stack.state import StackState, read_state
from sre_space.stack.wiring import flags_path

SETTLE_SECONDS = 5.0


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
        traffic_url = next(c.url for c in state.components if c.name == "traffic" and c.url)
        before = httpx.get(f"{traffic_url}/stats", timeout=5).json()
        flags_path(home, "traffic").write_text(json.dumps({"journeys_per_second": rate}))
        peak = rest
        end = time.monotonic() + load_seconds
        while time.monotonic() < end:
            time.sleep(1.0)
            peak = max(peak, stack_rss_mb(state)[1])
        flags_path(home, "traffic").write_text(json.dumps({"journeys_per_second": 0}))
        after = httpx.get(f"{traffic_url}/stats", timeout=5).json()
    finally:
        launcher.stop_daemon(home)
    outcomes = {k: int(v) - int(before.get("outcomes", {}).get(k, 0)) for k, v in after.get("outcomes", {}).items()}
    journeys = sum(outcomes.values())
    return StackBench(
        ready_seconds=round(ready, 2), processes=processes, rss_rest_mb=round(rest, 1), rss_load_mb=round(peak, 1),
        rate_requested=rate, load_seconds=load_seconds, journeys=journeys,
        journeys_per_second=round(journeys / load_seconds, 2), outcomes=outcomes,
        p50_ms=after.get("p50_ms"), p95_ms=after.get("p95_ms"),
    )


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
