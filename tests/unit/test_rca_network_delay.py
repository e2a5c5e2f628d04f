"""A network delay on one service of real Train Ticket traces: the shared day's fault-free window
is split in two by trace; one half is the baseline, the other gets a delay on every call into and
out of one service (netem on its pod: its responses and its requests leave late). The engine must
blame that service, not the callees it calls (whose incoming calls are all slow too)."""

from __future__ import annotations

import pytest

from agents.brain.datasets.nezha import NezhaDataset
from agents.brain.datasets.synthetic import crossing_calls, delay_network, split_by_trace
from agents.brain.rca import analyze
from sre_space.bench import delay
from sre_space.errors import ConfigError
from sre_space.models.diagnosis import FaultClass
from sre_space.models.telemetry import Span
from sre_space.models.window import TelemetryWindow
from tests.unit.test_nezha_adapter import NEZHA_TT

pytestmark = pytest.mark.skipif(not NEZHA_TT.is_dir(), reason=f"{NEZHA_TT} is not present")
DELAY_US = 100_000


@pytest.fixture(scope="module")
def halves() -> tuple[TelemetryWindow, TelemetryWindow]:
    window = NezhaDataset(NEZHA_TT).fault_free("2023-01-29")
    assert window is not None
    return split_by_trace(window)


def test_split_keeps_whole_traces_and_their_logs(halves: tuple[TelemetryWindow, TelemetryWindow]) -> None:
    a, b = halves
    traces_a, traces_b = {s.trace_id for s in a.spans}, {s.trace_id for s in b.spans}
    assert traces_a and traces_b and not traces_a & traces_b
    assert {ln.trace_id for ln in b.logs} <= traces_b


def _span(sid: str, parent: str | None, service: str, start: int, end: int) -> Span:
    return Span(trace_id="t1", span_id=sid, parent_id=parent, service=service, operation=sid, start_us=start,
                duration_us=end - start)


def test_delay_shifts_what_follows_and_leaves_the_callee_alone() -> None:
    # root(a) -> call(a) -> server(b); then a second call(a) -> server(c) after it
    spans = [_span("root", None, "a", 0, 100), _span("cb", "root", "a", 10, 40), _span("sb", "cb", "b", 15, 35),
             _span("cc", "root", "a", 50, 80), _span("sc", "cc", "c", 55, 75)]
    out = {s.span_id: (s.start_us, s.end_us) for s in delay_network(spans, "b", 1000)}
    assert out["sb"] == (15, 35)  # the callee's own work is unchanged
    assert out["cb"] == (10, 1040)  # the call into b ends late
    assert out["cc"] == (1050, 1080) and out["sc"] == (1055, 1075)  # what follows starts late
    assert out["root"] == (0, 1100)
    assert [s.span_id for s in crossing_calls(spans, "b")] == ["cb"]


@pytest.mark.parametrize("service", ["ts-basic-service", "ts-travel-service", "ts-station-service",
                                     "ts-route-service", "ts-train-service", "ts-price-service"])
def test_network_delay_is_blamed_on_the_delayed_service(
    halves: tuple[TelemetryWindow, TelemetryWindow], service: str
) -> None:
    baseline, healthy = halves
    incident = healthy.model_copy(update={"spans": delay_network(healthy.spans, service, DELAY_US)})
    diagnosis = analyze(incident, baseline)
    assert diagnosis.top is not None
    assert (diagnosis.top.service, diagnosis.top.fault_class) == (service, FaultClass.LATENCY), [
        (c.service, c.score) for c in diagnosis.candidates[:4]]
    assert any(e.signal == "caller_gap" for e in diagnosis.top.evidence)


def test_the_undelayed_half_is_not_blamed_on_a_service(halves: tuple[TelemetryWindow, TelemetryWindow]) -> None:
    baseline, healthy = halves
    diagnosis = analyze(healthy, baseline)
    assert not any(e.signal == "caller_gap" and e.score >= 3 for c in diagnosis.candidates for e in c.evidence)


def test_delay_benchmark_report_is_consistent() -> None:
    report = delay.run(NEZHA_TT, delay_ms=100, min_calls=20)
    assert report.cases and all(c.calls >= 20 for c in report.cases)
    assert report.skipped and all("calls" in s for s in report.skipped)
    ranks = [c.rank for c in report.cases]
    assert report.overall.ac[0] == sum(1 for r in ranks if r == 1) / len(ranks)
    assert "AC@1" in delay.render(report)


def test_delay_benchmark_rejects_a_non_positive_delay() -> None:
    with pytest.raises(ConfigError, match="positive"):
        delay.run(NEZHA_TT, delay_ms=0)
