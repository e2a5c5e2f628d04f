"""Brain's evidence from the live stack, and the bounded bundle the LLM sees.

``LiveEvidence.collect`` reads an incident window (from shortly before the incident opened until
a few seconds ago, ``SETTLE_S``) and a baseline window (the minutes before it, less the time of
earlier incidents, made up from clean time before them) into
``TelemetryWindow``s: spans through the Jaeger query API (a bounded number of traces per
service, error traces asked for separately so a busy service's few failures are not crowded
out), runtime events and logs through the stack's control API, and recent commits to
``fleet.yaml`` as changes. ``build_bundle`` turns the engine's diagnosis into the compact,
size-capped, redacted ``EvidenceBundle``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from agents.brain.changes import fleet_changes
from sre_space.adapters.runtime.base import RuntimeEvent
from sre_space.adapters.traces.jaeger import JaegerQuery
from sre_space.errors import BackendUnavailable, SREError
from sre_space.models.diagnosis import Diagnosis
from sre_space.models.events import IncidentWorkItem
from sre_space.models.telemetry import LogLine, Span, SpanKind
from sre_space.models.window import TelemetryWindow

US = 1_000_000
INCIDENT_S = 90.0  # the incident window reaches at least this far back from now (enough spans)
DETECTION_LAG_S = 60.0  # a fault starts up to this long before its incident opens
BASELINE_S = 300.0
MAX_INCIDENT_S = 900.0
# Spans and log lines of the incident window end this long before now. A span reaches the trace
# store only once it has ended and its batch was exported (0.5 s batches in the fleet, more on a
# loaded machine), while its log line is read at once: at the very end of the window, requests
# still running would look like calls that never happened, and lines of spans not stored yet
# like a burst of lines outside any span. Both blame busy callers, never the slow service.
SETTLE_S = 3.0
MIN_BASELINE_SPANS = 100  # fewer: the fleet is younger than the baseline window
YOUNG_BASELINE_S = 45.0
YOUNG_LAG_S = 5.0
# An earlier incident is left out of the baseline, from DETECTION_LAG_S before it opened until
# RECOVERY_S after it was resolved (the fleet settles after a fix); the clean baseline time is
# then looked for up to BASELINE_LOOKBACK baseline lengths back.
RECOVERY_S = 30.0
BASELINE_LOOKBACK = 3.0
TRACES_PER_SERVICE = 60
ERROR_TRACES_PER_SERVICE = 30
LOG_TAIL = 2000

# Bundle caps: what the model reads stays small whatever the fleet's size.
MAX_CANDIDATES = 5
MAX_LINES_PER_CANDIDATE = 5
MAX_LINE_CHARS = 220
MAX_EVENTS = 10
MAX_CHANGES = 5
MAX_TRACE_IDS = 5
MAX_BUNDLE_CHARS = 6000

T = TypeVar("T")
Range = tuple[int, int]  # [start, end) in µs
# Earlier incidents as (number, opened, resolved or None) in epoch seconds.
EarlierIncidents = Callable[[], Sequence[tuple[int, float, float | None]]]


class Evidence(BaseModel):
    """The two windows the engine compares, with what could not be read (``notes``)."""

    model_config = ConfigDict(frozen=True)

    incident: TelemetryWindow
    baseline: TelemetryWindow
    notes: list[str] = Field(default_factory=list)


class WindowPolicy(BaseModel):
    """How far back the incident window reaches and how long the baseline before it is."""

    model_config = ConfigDict(frozen=True)

    incident_s: float = INCIDENT_S
    detection_lag_s: float = DETECTION_LAG_S
    baseline_s: float = BASELINE_S
    max_incident_s: float = MAX_INCIDENT_S
    settle_s: float = SETTLE_S
    recovery_s: float = RECOVERY_S
    baseline_lookback: float = BASELINE_LOOKBACK


def windows_for(
    opened_at: float, now: float, policy: WindowPolicy = WindowPolicy()
) -> tuple[tuple[int, int], tuple[int, int]]:
    """``(incident, baseline)`` ranges in µs, the incident ending at ``now``: the baseline ends
    before the fault likely began."""
    split = min(now - policy.incident_s, opened_at - policy.detection_lag_s)
    split = max(split, now - policy.max_incident_s)
    return (int(split * US), int(now * US)), (int((split - policy.baseline_s) * US), int(split * US))


def clean_ranges(end_us: int, want_us: int, busy: Sequence[Range], floor_us: int) -> list[Range]:
    """Up to ``want_us`` of the time before ``end_us``, and not before ``floor_us``, that no
    ``busy`` range covers: the latest first."""
    merged: list[Range] = []
    for b0, b1 in sorted(busy):
        if merged and b0 <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b1))
        else:
            merged.append((b0, b1))
    out: list[Range] = []
    cursor, left = end_us, want_us
    for b0, b1 in reversed(merged):
        if b0 >= cursor:
            continue
        if b1 < cursor:
            start = max(b1, cursor - left, floor_us)
            if start < cursor:
                out.append((start, cursor))
                left -= cursor - start
            if left <= 0 or start <= floor_us:
                return out
        cursor = b0
        if cursor <= floor_us:
            return out
    start = max(floor_us, cursor - left)
    if start < cursor:
        out.append((start, cursor))
    return out


class LiveEvidence:
    """Reads both windows of an incident from the stack running in ``home``.

    ``traces_url`` is the Jaeger query API (embedded store or real Jaeger); without one the
    trace store is unreachable and ``collect`` raises ``BackendUnavailable``."""

    def __init__(
        self,
        home: Path,
        traces_url: str | None,
        control: Callable[..., Any] | None = None,
        now: Callable[[], float] = time.time,
        windows: WindowPolicy = WindowPolicy(),
        earlier: EarlierIncidents | None = None,
    ) -> None:
        self.home, self.traces_url, self.now, self.windows = home, traces_url, now, windows
        self.earlier = earlier
        if control is None:
            from sre_space.stack.launcher import control as stack_control

            control = stack_control
        self._control = control

    def collect(self, item: IncidentWorkItem) -> Evidence:
        """Both windows for ``item``; spans are required, the other sources are best effort."""
        if not self.traces_url:
            raise BackendUnavailable("no trace store: the stack state lists no `traces` URL")
        opened = item.time.timestamp()
        now = self.now()
        (i0, i1), (b0, b1) = windows_for(opened, now - self.windows.settle_s, self.windows)
        notes: list[str] = []
        clean, cut = self._clean_baseline(notes, item, now, b0, b1)
        # Both windows, the logs and the events are read at once: the trace store and the
        # control API answer in other processes while this one decodes.
        with JaegerQuery(self.traces_url, timeout=10.0) as query, ThreadPoolExecutor(4) as pool:
            services = [s for s in query.services() if s]
            since = clean[-1][0]  # the ranges come latest first
            logs_read = pool.submit(self._best_effort, notes, "logs", lambda: self.logs(services, since))
            events_read = pool.submit(self._best_effort, notes, "runtime events", self.events)
            inc_read = pool.submit(_spans, query, services, i0, i1)
            base_spans = [s for r in clean for s in _spans(query, services, *r)]
            inc_spans = inc_read.result()
            if len(base_spans) < MIN_BASELINE_SPANS and inc_spans:
                # A young fleet: its first traffic lies inside the incident window. Take the first
                # YOUNG_BASELINE_S of it as the baseline, ending before the incident opened.
                first = min(s.start_us for s in inc_spans)
                split = min(first + int(YOUNG_BASELINE_S * US), int((opened - YOUNG_LAG_S) * US))
                if split > i0:
                    (i0, b1) = (split, split)
                    clean, cut = [(b0, b1)], None
                    inc_read = pool.submit(_spans, query, services, i0, i1)
                    base_spans = _spans(query, services, b0, b1)
                    inc_spans = inc_read.result()
                    notes.append(f"young fleet: baseline is its first {(b1 - first) / US:.0f}s of traffic")
            logs, events = logs_read.result(), events_read.result()
        if cut:
            notes.append(cut)
        sources = load_sources([*inc_spans, *base_spans])
        if sources:
            inc_spans = [s for s in inc_spans if s.service not in sources]
            base_spans = [s for s in base_spans if s.service not in sources]
            notes.append(f"left out load sources (no server or consumer spans): {', '.join(sorted(sources))}")
        changes = self._best_effort(notes, "recent changes", lambda: fleet_changes(self.home / "gitops", i0))
        incident = TelemetryWindow(
            start_us=i0, end_us=i1, spans=inc_spans, changes=changes or [],
            # Runtime events come straight from the runtime (no export lag): a crash of the last
            # seconds counts.
            events=[e for e in events or [] if i0 <= _us(e.time)],
            logs=[ln for ln in logs or [] if i0 <= ln.time_us < i1],
        )
        baseline = TelemetryWindow(
            start_us=clean[-1][0], end_us=b1, excluded_us=b1 - clean[-1][0] - _length(clean), spans=base_spans,
            events=[e for e in events or [] if _within(_us(e.time), clean)],
            logs=[ln for ln in logs or [] if _within(ln.time_us, clean)],
        )
        return Evidence(incident=incident, baseline=baseline, notes=notes)

    def _clean_baseline(
        self, notes: list[str], item: IncidentWorkItem, now: float, b0: int, b1: int
    ) -> tuple[list[Range], str | None]:
        """The baseline's ranges: ``[b0, b1)`` less the time of earlier incidents (their faults
        would look usual), made up from earlier clean time when there is some; with the note
        that says so."""
        earlier = self._best_effort(notes, "earlier incidents", self.earlier) if self.earlier else None
        floor = b1 - int(self.windows.baseline_lookback * (b1 - b0))
        busy: dict[int, Range] = {}
        for number, opened, resolved in earlier or []:
            if number == item.incident and opened >= item.time.timestamp() - 1:
                continue  # opened for this very occurrence: nothing of it lies before
            # A reopened incident (the fault recurred) counts too: its first occurrence, still
            # "open" since the reopening, is left out up to the baseline's end.
            start = int((opened - self.windows.detection_lag_s) * US)
            end = int(((resolved or now) + self.windows.recovery_s) * US)
            if start < b1 and end > floor:
                busy[number] = (start, end)
        if not busy:
            return [(b0, b1)], None
        clean = clean_ranges(b1, b1 - b0, list(busy.values()), floor)
        numbers = ", ".join(f"#{n}" for n in sorted(busy))
        if not clean:
            return [(b0, b1)], f"baseline overlaps earlier incidents ({numbers}): no clean time before them"
        return clean, (f"baseline leaves out earlier incidents ({numbers}): {_length(clean) / US:.0f}s of clean "
                       f"traffic from the last {(b1 - clean[-1][0]) / US:.0f}s")

    @staticmethod
    def _best_effort(notes: list[str], what: str, read: Callable[[], T]) -> T | None:
        try:
            return read()
        except (SREError, OSError, ValueError) as exc:
            notes.append(f"{what} unavailable: {redact(str(exc))[:160]}")
            return None

    def events(self) -> list[RuntimeEvent]:
        body = self._control(self.home, "GET", "/events")
        return [RuntimeEvent.model_validate(e) for e in body.get("events", [])]

    def logs(self, services: list[str], since_us: int, tail: int = LOG_TAIL) -> list[LogLine]:
        """Each service's recent JSON log lines; a service whose tail does not reach back to the
        baseline is left out, since a pattern "new" only for lack of history is not evidence."""
        out: list[LogLine] = []
        for service in services:
            try:
                body = self._control(self.home, "GET", "/logs", service=service, tail=tail)
            except SREError:
                continue  # not a fleet service the runtime knows (e.g. the control plane)
            lines = [ln for raw in body.get("lines", []) if (ln := parse_log(service, raw))]
            if lines and (len(lines) < tail or min(ln.time_us for ln in lines) <= since_us):
                out.extend(lines)
        return out


def _within(t: int, ranges: list[Range]) -> bool:
    return any(r0 <= t < r1 for r0, r1 in ranges)


def _length(ranges: list[Range]) -> int:
    return sum(r1 - r0 for r0, r1 in ranges)


def _spans(query: JaegerQuery, services: list[str], start_us: int, end_us: int) -> list[Span]:
    """Spans of up to ``TRACES_PER_SERVICE`` traces per service (+ error traces) in the range.
    A trace crosses several services: one already read is not parsed again."""
    spans: dict[tuple[str, str], Span] = {}
    seen: set[str] = set()
    for service in services:
        for tags, limit in ((None, TRACES_PER_SERVICE), ({"error": "true"}, ERROR_TRACES_PER_SERVICE)):
            for trace in query.find_traces(service, start_us, end_us, tags=tags, limit=limit, exclude=seen):
                seen.add(trace.trace_id)
                for s in trace.spans:
                    if start_us <= s.start_us < end_us:
                        spans[(s.trace_id, s.span_id)] = s
    return list(spans.values())


def load_sources(spans: list[Span]) -> set[str]:
    """Services that only send requests (a traffic generator, a batch client): their own time is
    think time and waiting between calls, which grows whenever the fleet slows down, so they are
    never a root cause on the serving side."""
    serving = {s.service for s in spans if s.kind in (SpanKind.SERVER, SpanKind.CONSUMER)}
    return {s.service for s in spans} - serving


def parse_log(service: str, raw: str) -> LogLine | None:
    """One JSON log line of the fleet (``ts``, ``level``, ``message``, trace ids); None if not JSON."""
    try:
        doc = json.loads(raw)
        when = datetime.fromisoformat(str(doc["ts"]))
    except (ValueError, KeyError, TypeError):
        return None
    return LogLine(
        time_us=_us(when), service=service, message=str(doc.get("message", ""))[:500],
        level=str(doc.get("level", "")), trace_id=doc.get("trace_id"), span_id=doc.get("span_id"),
        instance=doc.get("instance") or None,
    )


def _us(when: datetime) -> int:
    return int(when.timestamp() * US)


# --- the bundle the LLM reads -------------------------------------------------------------------

_SECRET_KV = re.compile(
    r"(?i)\b([\w.-]*(?:token|secret|passw(?:or)?d|pwd|api[_-]?key|apikey|credential|auth(?:orization)?)[\w.-]*)"
    r"(\s*[=:]\s*|\"\s*:\s*\"?)([^\s\"',;]+)"
)
_SECRET_SHAPES = re.compile(
    r"\b(?:sk-[A-Za-z0-9_-]{8,}|gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{16,}|AKIA[0-9A-Z]{16}"
    r"|xox[abpr]-[A-Za-z0-9-]{10,}|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)"
    r"|(?i:bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"
    r"|[a-z]+://[^\s:/@]+:[^\s@/]+@"  # credentials in a URL
)
# A long mixed-case run of letters and digits is a key, not an id (trace ids are lowercase hex).
_OPAQUE = re.compile(r"\b(?=[A-Za-z0-9+/_=-]*[A-Z])(?=[A-Za-z0-9+/_=-]*[a-z])(?=[A-Za-z0-9+/_=-]*\d)"
                     r"[A-Za-z0-9+/_=-]{32,}\b")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """``text`` with anything that looks like a token, key or password replaced by ``[redacted]``."""
    text = _SECRET_KV.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _SECRET_SHAPES.sub(REDACTED, text)
    return _OPAQUE.sub(REDACTED, text)


def _line(text: str) -> str:
    text = redact(" ".join(text.split()))
    return text if len(text) <= MAX_LINE_CHARS else text[: MAX_LINE_CHARS - 1] + "…"


class CandidateBrief(BaseModel):
    """One root-cause candidate as the model sees it: the engine's score and evidence lines."""

    model_config = ConfigDict(frozen=True)

    service: str
    operation: str | None = None
    score: float
    fault_class: str
    evidence: list[str] = Field(default_factory=list)


class EvidenceBundle(BaseModel):
    """What the LLM reads about one incident: bounded in size and redacted, never raw telemetry."""

    model_config = ConfigDict(frozen=True)

    incident: str
    window: str
    engine: str
    candidates: list[CandidateBrief] = Field(default_factory=list)
    events: list[str] = Field(default_factory=list)
    changes: list[str] = Field(default_factory=list)
    trace_ids: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    @property
    def services(self) -> list[str]:
        """Services the evidence names as candidates (what a root cause may be)."""
        return [c.service for c in self.candidates if c.evidence]

    def render(self) -> str:
        """The bundle as compact JSON of at most ``MAX_BUNDLE_CHARS``: lower-ranked candidates,
        then their evidence lines, are dropped until it fits."""
        bundle = self
        while True:
            text = json.dumps(bundle.model_dump(), ensure_ascii=False, separators=(",", ":"))
            if len(text) <= MAX_BUNDLE_CHARS or not bundle.candidates:
                return text[:MAX_BUNDLE_CHARS]
            last = bundle.candidates[-1]
            shrunk = (bundle.candidates[:-1] if len(last.evidence) <= 1 or len(bundle.candidates) > 2
                      else [*bundle.candidates[:-1], last.model_copy(update={"evidence": last.evidence[:-1]})])
            bundle = bundle.model_copy(update={"candidates": shrunk, "events": bundle.events[:3]})


def build_bundle(item: IncidentWorkItem, evidence: Evidence, diagnosis: Diagnosis) -> EvidenceBundle:
    """The compact bundle for ``item`` from the windows and the engine's ``diagnosis``."""
    inc = evidence.incident
    candidates = [
        CandidateBrief(
            service=c.service, operation=c.operation, score=round(c.score, 2), fault_class=c.fault_class.value,
            evidence=[_line(f"{e.signal}: " + (f"baseline {e.baseline} -> incident {e.incident} {e.unit}; "
                                                 if e.incident is not None else "") + e.detail)
                      for e in c.evidence[:MAX_LINES_PER_CANDIDATE]],
        )
        for c in diagnosis.candidates[:MAX_CANDIDATES]
    ]
    trace_ids = list(dict.fromkeys(
        ref.split("/")[0] for c in diagnosis.candidates[:MAX_CANDIDATES] for e in c.evidence for ref in e.refs
        if re.fullmatch(r"[0-9a-f]{32}(/[0-9a-f]{16})?", ref)
    ))[:MAX_TRACE_IDS]
    events = sorted(inc.events, key=lambda e: e.time, reverse=True)[:MAX_EVENTS]
    changes = sorted(inc.changes, key=lambda c: c.time_us, reverse=True)[:MAX_CHANGES]
    verdict = diagnosis.fault_class.value if diagnosis.fault_class else "none"
    return EvidenceBundle(
        incident=_line(f"#{item.incident} {item.service} {item.signal} sev{item.severity}: {item.summary}"),
        window=f"incident {inc.seconds:.0f}s vs baseline {evidence.baseline.seconds:.0f}s; "
               f"{len(inc.spans)}+{len(evidence.baseline.spans)} spans",
        engine=_line(f"{diagnosis.summary} (class {verdict}, confidence {diagnosis.confidence:.2f}"
                     f"{', inconclusive' if diagnosis.inconclusive else ''})"),
        candidates=candidates,
        events=[_line(f"{e.time.isoformat(timespec='seconds')} {e.service} {e.instance} {e.kind.value}"
                      + (f" exit {e.exit_code}" if e.exit_code is not None else "")) for e in events],
        changes=[_line(f"{c.ref or '?'} {c.kind.value} {c.service or 'fleet'}: {c.summary}") for c in changes],
        trace_ids=trace_ids,
        notes=[_line(n) for n in evidence.notes],
    )
