"""``sre-space bench brain``: the RCA engine on a window of the running demo fleet.

Every span of the last ``minutes`` (the incident window) and of the ``baseline_minutes`` before it
is read through the Jaeger query API (one minute at a time, per service, deduplicated), with the
services' log tails and the runtime's events from the control API. Then the engine analyses the
two windows as Brain would. Reported: spans and log lines, reading time, the engine's wall time,
the statistical pass in CPU time (one core), the engine's own peak allocation (tracemalloc, its
inputs excluded) and the process's peak RSS (inputs included). Run it on a stack that has served
traffic for longer than both windows; a shorter history is reported, not hidden.
"""

from __future__ import annotations

import resource
import time
import tracemalloc
from typing import TYPE_CHECKING

from pydantic import BaseModel

from sre_space.config import Settings
from sre_space.errors import ConfigError
from sre_space.models.telemetry import Span
from sre_space.models.window import TelemetryWindow

if TYPE_CHECKING:
    from sre_space.adapters.traces.jaeger import JaegerQuery

US = 1_000_000
SLICE_S = 60
ALL_TRACES = 100_000
LOG_TAIL = 200_000  # lines per service: enough for both windows at the demo's rate


class BrainBench(BaseModel):
    """What ``run`` measured (nothing is asserted)."""

    minutes: float
    baseline_minutes: float
    history_s: float
    incident_spans: int
    baseline_spans: int
    log_lines: int
    events: int
    read_seconds: float
    engine_seconds: float
    spans_per_second: float
    ingest_spans_per_second: float
    engine_peak_mb: float
    peak_rss_mb: float
    top: str


def run(settings: Settings, minutes: float = 15.0, baseline_minutes: float = 5.0) -> BrainBench:
    from agents.brain.diagnose import traces_url
    from agents.brain.evidence import LiveEvidence
    from agents.brain.rca.engine import analyze
    from sre_space.adapters.traces.jaeger import JaegerQuery
    from sre_space.bench.rca import PassCost
    from sre_space.stack.launcher import running_state

    home = settings.home.resolve()
    if running_state(home) is None:
        raise ConfigError(f"no stack is running in {home}: `sre-space up`, let it serve traffic for "
                          f"{minutes + baseline_minutes:.0f} minutes, then run this")
    url = traces_url(settings, home)
    if url is None:
        raise ConfigError("the running stack lists no trace query URL")
    now = time.time()
    i0, i1 = int((now - minutes * 60) * US), int(now * US)
    b0 = int((now - (minutes + baseline_minutes) * 60) * US)
    started = time.perf_counter()
    with JaegerQuery(url, timeout=60.0) as query:
        services = [s for s in query.services() if s]
        spans = _all_spans(query, services, b0, i1)
    live = LiveEvidence(home, url)
    logs, events = live.logs(services, b0, tail=LOG_TAIL), live.events()
    read = time.perf_counter() - started
    if not spans:
        raise ConfigError(f"the trace store holds no span of the last {minutes + baseline_minutes:.0f} minutes")

    def window(lo: int, hi: int, items: list[Span]) -> TelemetryWindow:
        return TelemetryWindow(start_us=lo, end_us=hi, spans=[s for s in items if lo <= s.start_us < hi],
                               logs=[ln for ln in logs if lo <= ln.time_us < hi],
                               events=[e for e in events if lo <= int(e.time.timestamp() * US) < hi])

    incident, baseline = window(i0, i1, spans), window(b0, i0, spans)
    del spans
    clock = time.perf_counter()
    diagnosis = analyze(incident, baseline)
    engine = time.perf_counter() - clock
    cost = PassCost()
    cost.measure(incident, baseline)
    tracemalloc.start()
    try:
        analyze(incident, baseline)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    oldest = min((s.start_us for s in [*baseline.spans, *incident.spans]), default=i1)
    top = diagnosis.candidates[0] if diagnosis.candidates else None
    return BrainBench(
        minutes=minutes, baseline_minutes=baseline_minutes, history_s=round((i1 - oldest) / US, 1),
        incident_spans=len(incident.spans), baseline_spans=len(baseline.spans),
        log_lines=len(incident.logs) + len(baseline.logs), events=len(incident.events) + len(baseline.events),
        read_seconds=round(read, 2), engine_seconds=round(engine, 3),
        spans_per_second=round(cost.spans / cost.stats) if cost.stats > 0 else 0.0,
        ingest_spans_per_second=round(cost.spans / cost.ingest) if cost.ingest > 0 else 0.0,
        engine_peak_mb=round(peak, 1),
        peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        top="inconclusive" if diagnosis.inconclusive or top is None else f"{top.service} ({top.fault_class.value})",
    )


def _all_spans(query: JaegerQuery, services: list[str], start_us: int, end_us: int) -> list[Span]:
    """Every span in the range: each service's traces, a minute at a time, deduplicated."""
    spans: dict[tuple[str, str], Span] = {}
    seen: set[str] = set()
    for lo in range(start_us, end_us, SLICE_S * US):
        hi = min(lo + SLICE_S * US, end_us)
        for service in services:
            for trace in query.find_traces(service, lo, hi, limit=ALL_TRACES, exclude=seen):
                seen.add(trace.trace_id)
                for s in trace.spans:
                    if start_us <= s.start_us < end_us:
                        spans[(s.trace_id, s.span_id)] = s
    return list(spans.values())


def render(r: BrainBench) -> str:
    want = (r.minutes + r.baseline_minutes) * 60
    lines = [
        f"Brain on the running demo fleet: incident window {r.minutes:g} min, baseline {r.baseline_minutes:g} min",
        f"  spans: {r.incident_spans:,} in the incident window, {r.baseline_spans:,} in the baseline; "
        f"{r.log_lines:,} log lines, {r.events} runtime events",
        f"  reading them through the Jaeger query API and the control API: {r.read_seconds:.1f} s",
        f"  engine (analyze, wall clock): {r.engine_seconds:.2f} s -> top candidate: {r.top}",
        f"  statistical pass: {r.spans_per_second:,.0f} spans/s; building its columns: "
        f"{r.ingest_spans_per_second:,.0f} spans/s (process CPU time, one core)",
        f"  peak memory: engine {r.engine_peak_mb:.1f} MB (tracemalloc, inputs excluded); "
        f"process {r.peak_rss_mb:.1f} MB RSS (inputs included)",
    ]
    if r.history_s < want - SLICE_S:
        lines.append(f"  note: the store held only {r.history_s:.0f} s of the {want:.0f} s asked for")
    return "\n".join(lines)
