"""SLOs: burn rates over windows, the multi-window alerts (both windows must burn), the error
budget, and the report `sre-space slo` prints."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.scout.detectors.slo import burn_rate, slo_status, verdict
from agents.scout.report import render_status, slo_report
from agents.scout.state import PartitionTally, ScoutState
from agents.scout.symptoms import Clear, Symptom
from sre_space.config import Settings
from sre_space.models.scout import ScoutSettings
from tests.unit.scout_helpers import T0

CFG = ScoutSettings()
AVAIL, LATENCY, CONVERSION = CFG.slos


@pytest.mark.parametrize(
    ("good", "total", "objective", "rate"),
    [
        (99, 100, 0.99, 1.0),  # spending the budget exactly as fast as allowed
        (50, 100, 0.99, 50.0),  # half the requests fail
        (100, 100, 0.99, 0.0),
        (0, 0, 0.99, None),  # no events: no rate
    ],
)
def test_burn_rate(good: float, total: float, objective: float, rate: float | None) -> None:
    assert burn_rate(good, total, objective) == (pytest.approx(rate) if rate is not None else None)


def fill(state: ScoutState, now: float, seconds: int, error_share: float, every: int = 2) -> None:
    """Availability samples of 10 requests every ``every`` s over the last ``seconds``."""
    state.add_samples([(AVAIL.name, now - t, 10 * (1 - error_share), 10.0) for t in range(0, seconds, every)])


@pytest.mark.parametrize(
    ("history", "severity"),
    [
        ([(3600, 0.0)], None),  # a quiet hour
        ([(3600, 0.0), (60, 0.5)], 1),  # a minute at 50% errors: 50x over 60 s and 5 s
        ([(3600, 0.0), (120, 0.5), (6, 0.0)], 2),  # stopped 6 s ago: the fast alert ends, the 6x one holds 30 s
        ([(3600, 0.0), (360, 0.08)], 2),  # six minutes at 8%: 8x over 360 s and 30 s (not 14.4x)
        ([(3600, 0.012)], 3),  # a steady 1.2%: 1.2x over 1800 s and 150 s
    ],
)
def test_multiwindow_alerts(tmp_path: Path, history: list[tuple[int, float]], severity: int | None) -> None:
    state = ScoutState(tmp_path / "state.db")
    now = T0
    for seconds, share in history:  # later entries overwrite the newest part of the timeline
        state._db().execute("DELETE FROM slo_samples WHERE at > ?", (now - seconds,))
        fill(state, now, seconds, share)
    status = slo_status(state, AVAIL, CFG, now)
    assert (status.firing.severity if status.firing else None) == severity
    result = verdict(status, now)
    assert isinstance(result, Symptom if severity else Clear)
    if isinstance(result, Symptom):
        assert result.severity == severity and result.signal == "slo.frontend-availability"


def test_business_slo_reads_event_counts_and_the_budget(tmp_path: Path) -> None:
    state = ScoutState(tmp_path / "state.db")
    quotes = PartitionTally(0, 100, {(int(T0) - 100 + i, "quote_requested"): 1 for i in range(100)}, 100)
    bought = PartitionTally(0, 90, {(int(T0) - 100 + i, "policy_purchased"): 1 for i in range(90)}, 90)
    state.record("g", {("insurecloud.quotes", 0): quotes, ("insurecloud.policies", 0): bought}, {}, T0)
    status = slo_status(state, CONVERSION, CFG, T0)
    assert status.events == 98  # the newest 2 s are left out (settle_s)
    assert status.sli == pytest.approx(90 / 98)
    assert status.budget_remaining == pytest.approx(1 - (8 / 98) / 0.05)


def test_report_renders_every_slo(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    assert "no SLO data yet" in slo_report(settings, tmp_path, clock=lambda: T0)
    state = ScoutState(tmp_path / "scout" / "state.db")
    fill(state, T0, 120, 0.5)
    report = slo_report(settings, tmp_path, clock=lambda: T0)
    lines = report.splitlines()
    assert lines[0].startswith("SLO") and "burn 60s" in lines[0]
    assert "frontend-availability" in lines[1] and "sev:1" in lines[1]
    assert render_status([]) == "no SLOs declared (settings: scout.slos)"
