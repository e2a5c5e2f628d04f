"""The RCA engine on small synthetic span trees, one scenario per mechanism.

Every scenario shares one fleet: frontend -> a -> (b -> e, d) and frontend -> c -> d. The
baseline is 60 healthy traces; the incident is 60 traces with one thing broken."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from agents.brain.rca import analyze
from agents.brain.rca.table import SpanTable, Vocab
from sre_space.adapters.runtime.base import RuntimeEvent, RuntimeEventKind
from sre_space.models.diagnosis import FaultClass
from sre_space.models.telemetry import LogLine, MetricSample, Span, SpanKind
from sre_space.models.window import TelemetryWindow

T0 = 1_700_000_000_000_000  # µs


@dataclass
class Node:
    """A span to be: its own work, then its children one after the other."""

    service: str
    op: str
    self_ms: float
    children: list[Node] = field(default_factory=list)
    kind: SpanKind = SpanKind.SERVER
    error: bool = False
    logs: list[tuple[str, str]] = field(default_factory=list)


def call(caller: str, callee: Node, gap_ms: float = 1.0, error: bool = False) -> Node:
    """A client span in ``caller`` around ``callee``'s server span (``gap_ms`` of network)."""
    return Node(caller, f"GET {callee.service}", gap_ms, [callee], SpanKind.CLIENT, error)


@dataclass
class Faults:
    e_ms: float = 5.0  # e's own work
    gap_into_b_ms: float = 1.0  # network between a and b
    gap_out_of_a_ms: float = 1.0  # a starved: every call it makes waits before leaving
    b_raises: bool = False  # b throws: error status and an ERROR log, callers fail too
    a_breaker_open: float = 0.0  # share of requests a fails fast on its open breaker to b (no call)
    b_skips_e: bool = False  # b returns early: no call to e, a new WARN line
    b_down: bool = False  # b unreachable: a's call fails without a server span
    b_loose_errors: bool = False  # b logs errors outside any trace (a background thread)
    a_cannot_find_d: bool = False  # a's discovery loses d: a logs an error naming d; d itself is fine
    b_network_ms: float = 1.0  # b's network delayed: every call into and out of b is slow
    b_calls_e: int = 1  # how many times b queries e per request
    b_price_error: bool = False  # b's rarer operation (/b/price) writes an error line never seen before
    c_branch_share: float = 0.1  # share of c's requests that take branch A (the rest take B)


def fleet(f: Faults, rng: random.Random) -> Node:
    j = lambda ms: ms * rng.uniform(0.9, 1.1)  # noqa: E731
    b_logs = [("INFO", f"handled request id={rng.randint(1, 9999)}")]
    b_kids = [] if f.b_skips_e else [call("b", Node("e", "/e", j(f.e_ms)), j(f.b_network_ms))
                                     for _ in range(f.b_calls_e)]
    if f.b_raises:
        b_logs.append(("ERROR", "NullPointerException in OrderMapper.map"))
    if f.b_skips_e:
        b_logs.append(("WARN", "inventory lookup skipped"))
    b = Node("b", "/b", j(4), b_kids, error=f.b_raises, logs=b_logs)
    d = Node("d", "/d", j(3))
    to_b = Node("a", "GET b", j(1), [], SpanKind.CLIENT, error=True) if f.b_down else call(
        "a", b, j(max(f.gap_into_b_ms, f.gap_out_of_a_ms, f.b_network_ms)), error=f.b_raises)
    a_logs = [("ERROR", "IllegalStateException: No instances available for d")] if f.a_cannot_find_d else []
    a = Node("a", "/a", j(2), [to_b, call("a", d, j(f.gap_out_of_a_ms))], error=f.b_raises or f.b_down,
             logs=a_logs)
    if f.a_breaker_open and rng.random() < f.a_breaker_open:
        a = Node("a", "/a", j(0.2), error=True, logs=[("WARN", "GET /a failed: b: circuit breaker open")])
    branch = "A: cached price" if rng.random() < f.c_branch_share else "B: fresh price"
    c_kids = [call("c", Node("d", "/d", j(3)))]
    if rng.random() < 0.2:  # one request in five also asks b for a price
        price_logs = [("ERROR", "price table locked by the vault")] if f.b_price_error else []
        c_kids.append(call("c", Node("b", "/b/price", j(2), logs=price_logs)))
    c = Node("c", "/c", j(2), c_kids, logs=[("INFO", f"took branch {branch}")])
    return Node("frontend", "/home", j(1), [call("frontend", a), call("frontend", c)], error=a.error)


def materialise(root: Node, trace_id: str, start_us: int) -> tuple[list[Span], list[LogLine]]:
    spans: list[Span] = []
    logs: list[LogLine] = []

    def emit(node: Node, parent: str | None, start: int) -> int:
        span_id = f"{trace_id[-8:]}{len(spans):08x}"
        slot = len(spans)
        spans.append(None)  # type: ignore[arg-type]  # reserve the slot, fill in once the end is known
        cursor = start + int(node.self_ms * 1000)
        for level, message in node.logs:
            logs.append(LogLine(time_us=start + 10, service=node.service, message=message, level=level,
                                trace_id=trace_id, span_id=span_id))
        for child in node.children:
            cursor = emit(child, span_id, cursor)
        spans[slot] = Span(trace_id=trace_id, span_id=span_id, parent_id=parent, service=node.service,
                           operation=node.op, start_us=start, duration_us=cursor - start, kind=node.kind,
                           error=node.error)
        return cursor

    emit(root, None, start_us)
    return spans, logs


def window(faults: Faults, seed: int, start_us: int, n: int = 60, **extra: object) -> TelemetryWindow:
    rng = random.Random(seed)
    spans: list[Span] = []
    logs: list[LogLine] = []
    for i in range(n):
        s, ln = materialise(fleet(faults, rng), f"{seed:08x}{i:024x}", start_us + i * 1_000_000)
        spans += s
        logs += ln
        if faults.b_loose_errors:
            logs.append(LogLine(time_us=start_us + i * 1_000_000, service="b", level="ERROR",
                                message=f"connection pool exhausted after {rng.randint(1, 99)} ms"))
    return TelemetryWindow(start_us=start_us, end_us=start_us + n * 1_000_000, spans=spans, logs=logs,
                           **extra)  # type: ignore[arg-type]


def cpu(start_us: int, hot: str | None = None) -> list[MetricSample]:
    """One sample a minute of CPU per service for 20 minutes; ``hot`` runs at 95 %."""
    rng = random.Random(start_us)
    return [MetricSample(time_us=start_us + m * 60_000_000, service=s, instance=f"{s}-1", name="cpu_usage_percent",
                         value=95.0 if s == hot else 10 + rng.uniform(-1, 1))
            for m in range(20) for s in ("frontend", "a", "b", "c", "d", "e")]


def baseline() -> TelemetryWindow:
    return window(Faults(), seed=1, start_us=T0, metrics=cpu(T0))


def oom(service: str) -> RuntimeEvent:
    return RuntimeEvent(time=datetime.fromtimestamp((T0 + 200_000_000) / 1e6, UTC), service=service,
                        instance=f"{service}-1", kind=RuntimeEventKind.OOM_KILLED, exit_code=137)


CASES: list[tuple[str, Callable[[], TelemetryWindow], str, FaultClass, str]] = [
    # self time: e itself got slow; b, a and frontend only wait for it (victims, no self-time change)
    ("self_time", lambda: window(Faults(e_ms=200), 2, T0 + 10**8), "e", FaultClass.LATENCY, "self_time"),
    # saturation: e is starved of CPU (its own metric), and its spans slow down with it
    ("saturation", lambda: window(Faults(e_ms=40), 2, T0 + 10**8, metrics=cpu(T0 + 10**8, hot="e")), "e",
     FaultClass.SATURATION, "metric:cpu_usage_percent"),
    # caller gap: a's client span to b grows while b's server span does not: the delay is into b
    ("caller_gap", lambda: window(Faults(gap_into_b_ms=150), 2, T0 + 10**8), "b", FaultClass.LATENCY,
     "caller_gap"),
    # caller gap, other side: every call a makes is slow, while d answers c quickly: a is starved
    ("starved_caller", lambda: window(Faults(gap_out_of_a_ms=150), 2, T0 + 10**8), "a", FaultClass.LATENCY,
     "caller_gap"),
    # error origin: b throws and logs; a and frontend only propagate the failure
    ("error_origin", lambda: window(Faults(b_raises=True), 2, T0 + 10**8), "b", FaultClass.ERRORS,
     "error_origin"),
    # behaviour: b returns early (stops calling e, logs a new warning); its callers look normal
    ("call_mix", lambda: window(Faults(b_skips_e=True), 2, T0 + 10**8), "b", FaultClass.BUSINESS_LOGIC,
     "call_mix"),
    # log pattern: b's background thread starts failing; no trace carries it
    ("log_pattern", lambda: window(Faults(b_loose_errors=True), 2, T0 + 10**8), "b", FaultClass.ERRORS,
     "log_pattern"),
    # dependency unavailable: a's call to b fails with no server span of b below it
    ("missing_callee", lambda: window(Faults(b_down=True), 2, T0 + 10**8), "b",
     FaultClass.DEPENDENCY_UNAVAILABLE, "missing_callee"),
    # crash: the same, plus the runtime saw b killed for memory
    ("oom", lambda: window(Faults(b_down=True), 2, T0 + 10**8, events=[oom("b")]), "b", FaultClass.CRASH_OOM,
     "runtime:oom_killed"),
]


@pytest.mark.parametrize(("name", "make", "service", "fault_class", "signal"), CASES, ids=[c[0] for c in CASES])
def test_mechanism_names_the_cause(
    name: str, make: Callable[[], TelemetryWindow], service: str, fault_class: FaultClass, signal: str
) -> None:
    diagnosis = analyze(make(), baseline())
    top = diagnosis.candidates[0]
    assert (top.service, top.fault_class) == (service, fault_class), diagnosis.summary
    assert not diagnosis.inconclusive and diagnosis.confidence > 0
    assert signal in {e.signal for e in top.evidence}
    evidence = next(e for e in top.evidence if e.signal == signal)
    assert evidence.refs, "evidence must point at concrete items"


@pytest.mark.parametrize("victim", ["b", "a", "frontend"])
def test_victims_of_a_slow_callee_rank_below_it(victim: str) -> None:
    diagnosis = analyze(window(Faults(e_ms=200), 2, T0 + 10**8), baseline())
    scores = {c.service: c.score for c in diagnosis.candidates}
    assert scores.get(victim, 0.0) < scores["e"] / 4


@pytest.mark.parametrize("propagator", ["a", "frontend"])
def test_errors_that_only_propagate_rank_below_their_origin(propagator: str) -> None:
    diagnosis = analyze(window(Faults(b_raises=True), 2, T0 + 10**8), baseline())
    scores = {c.service: c.score for c in diagnosis.candidates}
    assert scores.get(propagator, 0.0) < scores["b"] / 4


def test_an_error_naming_another_service_is_relayed_not_originated() -> None:
    # a's error line names d: a relays a failure on the way to d, it does not fail on its own
    alone = analyze(window(Faults(a_cannot_find_d=True), 2, T0 + 10**8), baseline())
    assert not any(e.signal == "error_origin" for c in alone.candidates if c.service == "a" for e in c.evidence)
    assert alone.inconclusive or alone.top is None or alone.top.service != "a"
    # with a real fault elsewhere, the relaying service does not compete with it
    both = analyze(window(Faults(b_raises=True, a_cannot_find_d=True), 2, T0 + 10**8), baseline())
    assert both.top is not None and both.top.service == "b" and not both.inconclusive


def test_a_caller_failing_fast_on_an_open_breaker_relays_the_callee() -> None:
    # b raises; after a few failures a's breaker opens and most of a's requests fail at once,
    # calling nobody: only a's warning line says whose failure they relay
    diagnosis = analyze(window(Faults(b_raises=True, a_breaker_open=0.7), 2, T0 + 10**8), baseline())
    scores = {c.service: c.score for c in diagnosis.candidates}
    assert diagnosis.top is not None and diagnosis.top.service == "b" and not diagnosis.inconclusive, diagnosis.summary
    assert scores.get("a", 0.0) < scores["b"] / 4


def test_a_delayed_network_is_blamed_on_the_service_all_slow_calls_share() -> None:
    # b's network is delayed: a's calls to b and b's (three per request) calls to e are all slow.
    # e's calls are slow only on the edge from b; b's on every edge it has, so b is the cause.
    faults = Faults(b_network_ms=150, b_calls_e=3)
    diagnosis = analyze(window(faults, 2, T0 + 10**8), window(Faults(b_calls_e=3), 1, T0))
    scores = {c.service: c.score for c in diagnosis.candidates}
    assert diagnosis.top is not None and diagnosis.top.service == "b", diagnosis.summary
    assert diagnosis.top.fault_class is FaultClass.LATENCY
    assert scores.get("e", 0.0) < scores["b"] / 2


def test_a_new_error_line_outweighs_a_shift_between_known_lines() -> None:
    # b's rarer operation starts writing an error line b never wrote, while c's requests swing
    # between two branches c always had: the new error is the defect, the swing is data
    diagnosis = analyze(window(Faults(b_price_error=True, c_branch_share=0.6), 2, T0 + 10**8), baseline())
    scores = {c.service: c.score for c in diagnosis.candidates}
    assert diagnosis.top is not None and diagnosis.top.service == "b", diagnosis.summary
    assert scores.get("c", 0.0) < scores["b"] / 2


def test_healthy_incident_is_inconclusive() -> None:
    diagnosis = analyze(window(Faults(), 3, T0 + 10**8), baseline())
    assert diagnosis.inconclusive
    assert diagnosis.confidence == 0.0


EMPTY = TelemetryWindow(start_us=T0, end_us=T0 + 1)
LOGS_ONLY = TelemetryWindow(start_us=T0, end_us=T0 + 10**6, logs=[
    LogLine(time_us=T0, service="x", message="boom", level="ERROR", trace_id="t", span_id="s")])


@pytest.mark.parametrize(("incident", "base"), [
    (EMPTY, EMPTY),  # nothing at all
    (lambda: window(Faults(e_ms=200), 2, T0), EMPTY),  # no baseline: nothing to compare with
    (EMPTY, baseline),  # no incident data
    (LOGS_ONLY, EMPTY),  # a log line whose span is not there
], ids=["empty", "no-baseline", "no-incident", "orphan-log"])
def test_degenerate_windows_are_inconclusive(incident: object, base: object) -> None:
    make = lambda w: w() if callable(w) else w  # noqa: E731
    assert analyze(make(incident), make(base)).inconclusive


def _span(sid: str, parent: str | None, start: int, dur: int, service: str = "s") -> Span:
    return Span(trace_id="t", span_id=sid, parent_id=parent, service=service, operation=sid,
                start_us=start, duration_us=dur)


@pytest.mark.parametrize(("children", "self_time"), [
    ([], 100),  # a leaf's self time is its duration
    ([(10, 20), (40, 20)], 60),  # sequential children
    ([(10, 50), (30, 50)], 30),  # overlapping (parallel) children count once
    ([(90, 50)], 90),  # a child outliving its parent is clipped to the parent
])
def test_self_time_is_duration_minus_union_of_children(children: list[tuple[int, int]], self_time: int) -> None:
    spans = [_span("p", None, 0, 100)] + [_span(f"c{i}", "p", s, d) for i, (s, d) in enumerate(children)]
    table = SpanTable.build(spans, Vocab(), Vocab())
    assert int(table.self_time[0]) == self_time


def test_duplicate_spans_are_counted_once() -> None:
    spans = [_span("p", None, 0, 100), _span("c", "p", 0, 40), _span("c", "p", 0, 40)]
    table = SpanTable.build(spans, Vocab(), Vocab())
    assert len(table) == 2 and int(table.self_time[0]) == 60


def test_span_ids_reused_across_traces_stay_apart() -> None:
    spans = [_span("p", None, 0, 100), _span("c", "p", 0, 40)]
    other = [s.model_copy(update={"trace_id": "u"}) for s in spans]
    table = SpanTable.build(spans + other, Vocab(), Vocab())
    assert table.parent.tolist() == [-1, 0, -1, 2]


def test_depth_and_service_boundaries() -> None:
    spans = [_span("r", None, 0, 100, "a"), _span("x", "r", 0, 50, "a"), _span("y", "x", 0, 20, "b")]
    table = SpanTable.build(spans, Vocab(), Vocab())
    assert table.depth.tolist() == [0, 1, 2]
    assert table.exit.tolist() == [False, True, False]
    assert table.entry.tolist() == [True, False, True]
