"""Traffic journey statistics with an injected clock."""

from __future__ import annotations

import pytest

from services.traffic.stats import JourneyStats, Outcome, percentile


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([], 50, None),  # nothing yet
        ([5.0], 95, 5.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.0),  # nearest rank
        (list(map(float, range(1, 101))), 95, 95.0),
        ([9.0, 1.0, 5.0], 100, 9.0),  # unsorted input
    ],
)
def test_percentile(values: list[float], q: float, expected: float | None) -> None:
    assert percentile(values, q) == expected


def test_snapshot_counts_and_window() -> None:
    now = [0.0]
    stats = JourneyStats(clock=lambda: now[0])
    for i in range(10):
        now[0] = float(i)
        stats.add(Outcome.PURCHASED if i < 8 else Outcome.TIMEOUT, latency_ms=100.0 * (i + 1))
    now[0] = 10.0
    snap = stats.snapshot(in_flight=2)
    assert snap["total"] == 10 and snap["in_flight"] == 2
    assert snap["by_outcome"] == {"purchased": 8, "failed": 0, "quote_error": 0, "timeout": 2}
    assert snap["latency_ms"] == {"p50": 500.0, "p95": 1000.0}
    assert snap["last_minute"]["journeys_per_s"] == 1.0  # type: ignore[index]
    now[0] = 65.5  # the first six journeys (t=0..5) left the one-minute window
    recent = stats.snapshot()["last_minute"]
    assert recent["journeys"] == 4 and recent["by_outcome"] == {"purchased": 2, "timeout": 2}  # type: ignore[index]
    assert recent["journeys_per_s"] == round(4 / 60, 3)  # type: ignore[index]
