"""A network delay on one service of real Train Ticket traces: the shared day's fault-free window
is split in two by trace; one half is the baseline, the other gets a delay on every call into and
out of one service (netem on its pod: its responses and its requests leave late). The engine must
blame that service, not the callees it calls (whose incoming calls are all slow too)."""

from __future__ import annotations

from collections import defaultdict

import pytest

from agents.brain.datasets.nezha import NezhaDataset
from agents.brain.rca import analyze
from sre_space.models.diagnosis import FaultClass
from sre_space.models.telemetry import Span
from sre_space.models.window import TelemetryWindow
from tests.unit.test_nezha_adapter import NEZHA_TT

pytestmark = pytest.mark.skipif(not NEZHA_TT.is_dir(), reason=f"{NEZHA_TT} is not present")
DELAY_US = 100_000


@pytest.fixture(scope="module")
def halves() -> tuple[TelemetryWindow, TelemetryWindow]:
    dataset = NezhaDataset(NEZHA_TT)
    fault_free = dataset.load(dataset.cases()[0]).baseline
    odd = {s.trace_id for s in fault_free.spans if int(s.trace_id, 16) % 2}

    def half(keep: bool) -> TelemetryWindow:
        spans = [s for s in fault_free.spans if (s.trace_id in odd) == keep]
        ids = {s.trace_id for s in spans}
        return TelemetryWindow(start_us=min(s.start_us for s in spans), end_us=max(s.end_us for s in spans),
                               spans=spans, logs=[ln for ln in fault_free.logs if ln.trace_id in ids])

    return half(False), half(True)


def delayed(spans: list[Span], service: str, delay_us: int) -> list[Span]:
    """Every call crossing ``service``'s boundary ends ``delay_us`` late; its ancestors end that much
    later, and what starts after it (outside its subtree) is shifted by the same amount."""
    by_id = {(s.trace_id, s.span_id): s for s in spans}
    ancestors: dict[tuple[str, str], set[str]] = {}
    for s in spans:
        up, cur = set(), s
        while cur.parent_id and (cur.trace_id, cur.parent_id) in by_id:
            cur = by_id[(cur.trace_id, cur.parent_id)]
            up.add(cur.span_id)
        ancestors[(s.trace_id, s.span_id)] = up
    slow: dict[str, list[Span]] = defaultdict(list)
    for s in spans:
        parent = by_id.get((s.trace_id, s.parent_id or ""))
        if parent is not None and (parent.service == service) != (s.service == service):
            slow[s.trace_id].append(parent)
    out = []
    for s in spans:
        start, end = s.start_us, s.end_us
        for call in slow.get(s.trace_id, []):
            if call.span_id in ancestors[(s.trace_id, s.span_id)]:
                continue  # inside the delayed call: its own timing is unchanged
            if s.span_id == call.span_id or s.span_id in ancestors[(call.trace_id, call.span_id)]:
                end += delay_us
            else:
                start += delay_us if s.start_us >= call.end_us else 0
                end += delay_us if s.end_us >= call.end_us else 0
        out.append(s.model_copy(update={"start_us": start, "duration_us": end - start}))
    return out


@pytest.mark.parametrize("service", ["ts-basic-service", "ts-travel-service", "ts-station-service",
                                     "ts-route-service", "ts-train-service", "ts-price-service"])
def test_network_delay_is_blamed_on_the_delayed_service(
    halves: tuple[TelemetryWindow, TelemetryWindow], service: str
) -> None:
    baseline, healthy = halves
    incident = healthy.model_copy(update={"spans": delayed(healthy.spans, service, DELAY_US)})
    diagnosis = analyze(incident, baseline)
    assert diagnosis.top is not None
    assert (diagnosis.top.service, diagnosis.top.fault_class) == (service, FaultClass.LATENCY), [
        (c.service, c.score) for c in diagnosis.candidates[:4]]
    assert any(e.signal == "caller_gap" for e in diagnosis.top.evidence)


def test_the_undelayed_half_is_not_blamed_on_a_service(halves: tuple[TelemetryWindow, TelemetryWindow]) -> None:
    baseline, healthy = halves
    diagnosis = analyze(healthy, baseline)
    assert not any(e.signal == "caller_gap" and e.score >= 3 for c in diagnosis.candidates for e in c.evidence)
