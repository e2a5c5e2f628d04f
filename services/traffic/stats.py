"""Journey statistics for ``GET /stats``: counts by outcome, latency percentiles, recent rate."""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable
from enum import StrEnum

from pydantic import BaseModel

WINDOW_S = 60.0


class Outcome(StrEnum):
    """How a journey ended."""

    PURCHASED = "purchased"  # the quote became a policy
    FAILED = "failed"  # policy-service decided policy_failed
    QUOTE_ERROR = "quote_error"  # the quote request itself failed
    TIMEOUT = "timeout"  # no final policy status within JOURNEY_TIMEOUT_S


class JourneyResult(BaseModel):
    """One journey as recorded in ``journeys.jsonl``."""

    time: str
    outcome: Outcome
    latency_ms: float
    quote_id: str | None = None
    reason: str | None = None
    trace_id: str | None = None


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100) of unsorted values; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil without floats drifting
    return ordered[int(rank) - 1]


class JourneyStats:
    """Totals since start and a sliding one-minute window, with an injected clock."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, window_s: float = WINDOW_S,
                 max_samples: int = 10_000) -> None:
        self.clock, self.window_s = clock, window_s
        self.totals: Counter[str] = Counter()
        self._recent: deque[tuple[float, Outcome, float]] = deque()
        self._latencies: deque[float] = deque(maxlen=max_samples)
        self.started_at = clock()

    def add(self, outcome: Outcome, latency_ms: float) -> None:
        self.totals[outcome.value] += 1
        self._recent.append((self.clock(), outcome, latency_ms))
        self._latencies.append(latency_ms)

    def _trim(self) -> None:
        horizon = self.clock() - self.window_s
        while self._recent and self._recent[0][0] < horizon:
            self._recent.popleft()

    def snapshot(self, in_flight: int = 0) -> dict[str, object]:
        """The ``/stats`` document."""
        self._trim()
        recent = [lat for _, _, lat in self._recent]
        span = min(self.window_s, max(self.clock() - self.started_at, 1e-9))
        return {
            "total": sum(self.totals.values()),
            "by_outcome": {o.value: self.totals.get(o.value, 0) for o in Outcome},
            "in_flight": in_flight,
            "latency_ms": {"p50": percentile(list(self._latencies), 50), "p95": percentile(list(self._latencies), 95)},
            "last_minute": {
                "journeys": len(recent),
                "journeys_per_s": round(len(recent) / span, 3),
                "by_outcome": dict(Counter(o.value for _, o, _ in self._recent)),
                "p50_ms": percentile(recent, 50),
                "p95_ms": percentile(recent, 95),
            },
        }
