"""Faults synthesised on real traces, for the faults a public dataset lacks. A fault-free window
is split in two by trace: one half is the baseline, the other becomes the incident once the fault
is written into its spans, so everything but the fault is real (topology, timings, noise)."""

from __future__ import annotations

from collections import defaultdict

from sre_space.models.telemetry import Span
from sre_space.models.window import TelemetryWindow


def split_by_trace(window: TelemetryWindow) -> tuple[TelemetryWindow, TelemetryWindow]:
    """Two windows of alternate traces (by trace id parity; non-hex ids by hash), logs following
    their traces. Metrics and events are left out: they cannot be split by trace."""
    odd = {s.trace_id for s in window.spans if _parity(s.trace_id)}

    def half(keep: bool) -> TelemetryWindow:
        spans = [s for s in window.spans if (s.trace_id in odd) == keep]
        ids = {s.trace_id for s in spans}
        return TelemetryWindow(
            start_us=min((s.start_us for s in spans), default=window.start_us),
            end_us=max((s.end_us for s in spans), default=window.end_us),
            spans=spans, logs=[ln for ln in window.logs if ln.trace_id in ids],
        )

    return half(False), half(True)


def _parity(trace_id: str) -> bool:
    try:
        return int(trace_id, 16) % 2 == 1
    except ValueError:
        return sum(trace_id.encode()) % 2 == 1


def crossing_calls(spans: list[Span], service: str) -> list[Span]:
    """Client-side spans of calls into or out of ``service`` (the parent of a span across its
    boundary), each once."""
    by_id = {(s.trace_id, s.span_id): s for s in spans}
    calls: dict[tuple[str, str], Span] = {}
    for s in spans:
        parent = by_id.get((s.trace_id, s.parent_id or ""))
        if parent is not None and (parent.service == service) != (s.service == service):
            calls[(parent.trace_id, parent.span_id)] = parent
    return list(calls.values())


def delay_network(spans: list[Span], service: str, delay_us: int) -> list[Span]:
    """``service``'s network delayed (netem on its pod): every call into or out of it ends
    ``delay_us`` late. The call's ancestors end that much later and what starts after it outside
    its subtree shifts by the same amount; the call's own subtree keeps its timing."""
    by_id = {(s.trace_id, s.span_id): s for s in spans}
    ancestors: dict[tuple[str, str], set[str]] = {}
    for s in spans:
        up, cur = set(), s
        while cur.parent_id and cur.parent_id not in up and (cur.trace_id, cur.parent_id) in by_id:
            cur = by_id[(cur.trace_id, cur.parent_id)]
            up.add(cur.span_id)
        ancestors[(s.trace_id, s.span_id)] = up
    slow: dict[str, list[Span]] = defaultdict(list)
    for call in crossing_calls(spans, service):
        slow[call.trace_id].append(call)
    out = []
    for s in spans:
        start, end = s.start_us, s.end_us
        for call in slow.get(s.trace_id, []):
            if call.span_id in ancestors[(s.trace_id, s.span_id)]:
                continue  # inside the delayed call
            if s.span_id == call.span_id or s.span_id in ancestors[(call.trace_id, call.span_id)]:
                end += delay_us
            else:
                start += delay_us if s.start_us >= call.end_us else 0
                end += delay_us if s.end_us >= call.end_us else 0
        out.append(s if (start, end) == (s.start_us, s.end_us)
                   else s.model_copy(update={"start_us": start, "duration_us": end - start}))
    return out
