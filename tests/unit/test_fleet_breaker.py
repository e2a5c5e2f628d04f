"""Circuit breaker transitions with an injected clock."""

from __future__ import annotations

import pytest

from services.common.http import BreakerState, CircuitBreaker, backoff_delay


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def state(breaker: CircuitBreaker) -> BreakerState:
    """The state read through a call, so the type checker does not narrow it across transitions."""
    return breaker.state


def opened(clock: FakeClock, threshold: int = 3) -> CircuitBreaker:
    breaker = CircuitBreaker(failure_threshold=threshold, reset_after_s=5.0, clock=clock)
    for _ in range(threshold):
        assert breaker.allow()
        breaker.record_failure()
    return breaker


def test_opens_after_consecutive_failures_only() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=3, reset_after_s=5.0, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()  # a success resets the count
    breaker.record_failure()
    breaker.record_failure()
    assert state(breaker) is BreakerState.CLOSED and breaker.allow()
    breaker.record_failure()
    assert state(breaker) is BreakerState.OPEN and not breaker.allow()


def test_half_open_lets_one_trial_through_then_closes_on_success() -> None:
    clock = FakeClock()
    breaker = opened(clock)
    clock.now += 4.9
    assert not breaker.allow()
    clock.now += 0.1
    assert state(breaker) is BreakerState.HALF_OPEN
    assert breaker.allow()  # the trial
    assert not breaker.allow()  # only one at a time
    breaker.record_success()
    assert state(breaker) is BreakerState.CLOSED and breaker.allow()


def test_failed_trial_reopens_for_a_full_period() -> None:
    clock = FakeClock()
    breaker = opened(clock)
    clock.now += 5.0
    assert breaker.allow()
    breaker.record_failure()
    assert state(breaker) is BreakerState.OPEN
    clock.now += 4.0
    assert not breaker.allow()
    clock.now += 1.0
    assert breaker.allow()


def test_a_trial_that_never_reports_back_does_not_wedge_the_breaker() -> None:
    clock = FakeClock()
    breaker = opened(clock)
    clock.now += 5.0
    assert breaker.allow()  # the caller is cancelled and never records an outcome
    clock.now += 5.0
    assert breaker.allow()


@pytest.mark.parametrize(
    ("attempt", "rand", "expected"),
    [
        (0, 0.0, 0.025),  # half of base 0.05
        (0, 1.0, 0.05),  # full base
        (2, 0.0, 0.1),  # 0.05 x 4 = 0.2, half
        (10, 1.0, 1.0),  # capped at 1 s
    ],
)
def test_backoff_delay(attempt: int, rand: float, expected: float) -> None:
    assert backoff_delay(attempt, 0.05, cap_s=1.0, rand=lambda: rand) == pytest.approx(expected)
