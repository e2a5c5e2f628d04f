"""Brain on the demo fleet's shape, without a stack: the five demo faults as synthetic windows →
the right service and class; the LLM bundle stays bounded and redacted; answers are validated.

Fleet: frontend → quote-service → user-service, and quote-service → Kafka → policy-service →
user-service, as in deploy/fleet.yaml. Baseline and incident are 60 journeys each."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agents.brain.changes import diff_services
from agents.brain.diagnose import diagnose_windows, incident_history
from agents.brain.evidence import (
    MAX_BUNDLE_CHARS,
    REDACTED,
    Evidence,
    EvidenceBundle,
    build_bundle,
    clean_ranges,
    redact,
    windows_for,
)
from agents.brain.llm import LLMRejected, adopt, answer_schema, parse_answer
from sre_space.adapters.runtime.base import RuntimeEvent, RuntimeEventKind
from sre_space.adapters.tracker.local import LocalTracker
from sre_space.models.diagnosis import Candidate, DecidedBy, Diagnosis, EvidenceKind, FaultClass
from sre_space.models.diagnosis import Evidence as Ev
from sre_space.models.events import IncidentWorkItem, WorkItemKind
from sre_space.models.incident import Label
from sre_space.models.telemetry import LogLine, Span, SpanKind
from sre_space.models.window import Change, ChangeKind, TelemetryWindow

T0 = 1_800_000_000_000_000  # µs: baseline start
INC = T0 + 300_000_000  # incident start (5 minutes later)


@dataclass
class Fault:
    quote_down_every: int = 0  # every n-th journey finds quote-service dead (OOM-killed, restarting)
    user_down: bool = False
    user_extra_ms: float = 0.0
    quote_error_every: int = 0
    premium_limit_hit: bool = False


@dataclass
class Trace:
    tid: str
    spans: list[Span] = field(default_factory=list)
    logs: list[LogLine] = field(default_factory=list)

    def span(self, service: str, op: str, kind: SpanKind, start: int, dur_ms: float, parent: Span | None,
             error: bool = False) -> Span:
        s = Span(trace_id=self.tid, span_id=f"{len(self.spans) + 1:016x}", parent_id=parent.span_id if parent else None,
                 service=service, operation=op, kind=kind, start_us=start, duration_us=int(dur_ms * 1000), error=error)
        self.spans.append(s)
        return s

    def log(self, span: Span, level: str, message: str) -> None:
        self.logs.append(LogLine(time_us=span.start_us + 5, service=span.service, level=level, message=message,
                                 trace_id=self.tid, span_id=span.span_id))


def user_call(t: Trace, caller: Span, start: int, f: Fault, rng: random.Random) -> bool:
    """caller → user-service; False when the call failed."""
    dur = rng.uniform(2, 4) + f.user_extra_ms
    client = t.span(caller.service, "GET /users/{user_id}", SpanKind.CLIENT, start, dur + 1, caller, f.user_down)
    if not f.user_down:
        t.span("user-service", "GET /users/{user_id}", SpanKind.SERVER, start + 500, dur, client)
    return not f.user_down


def journey(i: int, start: int, f: Fault, rng: random.Random) -> Trace:
    t = Trace(f"{start:016x}{i:016x}")
    root = t.span("frontend", "POST /api/quotes", SpanKind.SERVER, start, 30 + f.user_extra_ms, None)
    client = t.span("frontend", "POST /quotes", SpanKind.CLIENT, start + 1000, 25 + f.user_extra_ms, root)
    if f.quote_down_every and i % f.quote_down_every == 0:
        t.spans[-1] = client.model_copy(update={"error": True, "duration_us": 1000})
        t.log(root, "ERROR", "quote-service unavailable: connection refused")
        return t
    failing = bool(f.quote_error_every and i % f.quote_error_every == 0)
    quote = t.span("quote-service", "POST /quotes", SpanKind.SERVER, start + 2000, 20 + f.user_extra_ms, client,
                   error=failing or f.user_down)
    t.log(quote, "INFO", f"quote q{i:08x} priced")
    if failing:
        t.log(quote, "ERROR", "pricing failed with an internal error")
        return t
    if not user_call(t, quote, start + 3000, f, rng):
        t.log(quote, "WARNING", f"user lookup failed for quote q{i:08x}")
        return t
    send = t.span("quote-service", "insurecloud.quotes publish", SpanKind.PRODUCER, start + 8000, 1, quote)
    policy = t.span("policy-service", "insurecloud.quotes process", SpanKind.CONSUMER, start + 20_000, 10, send)
    if user_call(t, policy, start + 21_000, f, rng):
        quote_id = f"q{i:08x}"
        outcome = f"failed for quote {quote_id}: premium_over_limit" if f.premium_limit_hit else (
            f"purchased for quote {quote_id}")
        t.log(policy, "INFO", f"policy {outcome}")
    return t


def window(start: int, f: Fault, seed: int, **extra: object) -> TelemetryWindow:
    rng = random.Random(seed)
    traces = [journey(i, start + i * 2_000_000, f, rng) for i in range(60)]
    return TelemetryWindow(start_us=start, end_us=start + 120_000_000, spans=[s for t in traces for s in t.spans],
                           logs=[ln for t in traces for ln in t.logs], **extra)


def event(service: str, kind: RuntimeEventKind, at_s: float, exit_code: int | None = None) -> RuntimeEvent:
    return RuntimeEvent(time=datetime.fromtimestamp((INC + at_s * 1e6) / 1e6, UTC), service=service,
                        instance=f"{service}-0", kind=kind, exit_code=exit_code)


def item(service: str, signal: str) -> IncidentWorkItem:
    return IncidentWorkItem(incident=7, kind=WorkItemKind.OPENED, fingerprint=f"{service}:{signal}", service=service,
                            signal=signal, severity=2, time=datetime.fromtimestamp(INC / 1e6 + 60, UTC))


BAD_CHANGE = Change(time_us=INC - 20_000_000, service="policy-service", kind=ChangeKind.CONFIG, ref="abc1234",
                    summary="fleet.yaml commit abc1234 changed config MAX_POLICY_PREMIUM (values withheld)")

CASES = [
    # OOM kill: the runtime saw quote-service killed for memory; journeys meanwhile fail at the frontend
    ("oom", Fault(quote_down_every=4), {"events": [event("quote-service", RuntimeEventKind.OOM_KILLED, 30, 137),
                                                   event("quote-service", RuntimeEventKind.RESTARTED, 31)]},
     item("quote-service", "oom_killed"), "quote-service", FaultClass.CRASH_OOM),
    # killed dependency: calls to user-service fail with no server span below them
    ("kill", Fault(user_down=True), {"events": [event("user-service", RuntimeEventKind.STOPPED, 5)]},
     item("quote-service", "error_rate"), "user-service", FaultClass.DEPENDENCY_UNAVAILABLE),
    # injected latency: user-service's own time grows by 800 ms; its callers only wait
    ("latency", Fault(user_extra_ms=800), {}, item("frontend", "latency_p95"), "user-service", FaultClass.LATENCY),
    # injected errors: half of quote-service's requests fail there; the frontend only propagates
    ("errors", Fault(quote_error_every=2), {}, item("frontend", "error_rate"), "quote-service", FaultClass.ERRORS),
    # bad config: a fleet.yaml commit to policy-service, then purchases fail with a new reason
    ("bad-config", Fault(premium_limit_hit=True),
     {"changes": [BAD_CHANGE], "events": [event("policy-service", RuntimeEventKind.RESTARTED, -15)]},
     item("policy-service", "policy_failed_ratio"), "policy-service", FaultClass.BAD_CHANGE),
]


@pytest.mark.parametrize(("name", "fault", "extra", "work", "service", "fault_class"), CASES, ids=[c[0] for c in CASES])
def test_demo_fault_names_service_and_class(name: str, fault: Fault, extra: dict[str, object],
                                            work: IncidentWorkItem, service: str, fault_class: FaultClass) -> None:
    evidence = Evidence(incident=window(INC, fault, 2, **extra), baseline=window(T0, Fault(), 1))
    diagnosis = diagnose_windows(work, evidence)
    assert diagnosis.top is not None, diagnosis.summary
    assert (diagnosis.top.service, diagnosis.fault_class) == (service, fault_class), diagnosis.summary
    assert not diagnosis.inconclusive and diagnosis.decided_by == DecidedBy.ENGINE


def test_healthy_window_is_inconclusive() -> None:
    evidence = Evidence(incident=window(INC, Fault(), 2), baseline=window(T0, Fault(), 1))
    assert diagnose_windows(item("frontend", "latency_p95"), evidence).inconclusive


def test_windows_end_the_baseline_before_the_fault_began() -> None:
    (i0, i1), (b0, b1) = windows_for(opened_at=1000.0, now=1030.0)
    # opened 30 s ago: the incident window reaches 90 s back; the baseline is the 5 minutes before
    assert (i0, i1, b0, b1) == (940_000_000, 1_030_000_000, 640_000_000, 940_000_000)
    (i0, _), _ = windows_for(opened_at=1000.0, now=1200.0)
    # opened 200 s ago: the window starts a detection lag (60 s) before the incident opened
    assert i0 == 940_000_000
    (i0, _), _ = windows_for(opened_at=0.0, now=2000.0)
    # opened long ago: the window is capped at 15 minutes
    assert i0 == 1_100_000_000


@pytest.mark.parametrize(("busy", "floor", "expected"), [
    ([], 0, [(600, 900)]),  # no earlier incident: the plain baseline
    ([(850, 950)], 0, [(550, 850)]),  # one covers its end: as much clean time, from before it
    ([(700, 750)], 0, [(750, 900), (550, 700)]),  # one in the middle: the time around it
    ([(100, 200), (700, 750), (720, 760)], 0, [(760, 900), (540, 700)]),  # overlapping ones merge
    ([(700, 750), (600, 950)], 0, [(300, 600)]),  # as do contained ones
    ([(850, 950)], 700, [(700, 850)]),  # no further back than the floor
    ([(650, 950)], 700, []),  # no clean time at all
])
def test_clean_baseline_ranges_leave_out_earlier_incidents(busy: list[tuple[int, int]], floor: int,
                                                           expected: list[tuple[int, int]]) -> None:
    assert clean_ranges(900, 300, busy, floor) == expected


def test_incident_history_lists_the_trackers_incidents(tmp_path: Path) -> None:
    times = iter(datetime(2026, 1, 1, 0, m, tzinfo=UTC) for m in range(10))
    tracker = LocalTracker(tmp_path / "tracker.db", clock=lambda: next(times))
    resolved = tracker.create_issue("quote-service OOM", labels=[Label.INCIDENT])  # at 00:00
    tracker.close(resolved.number)  # at 00:01
    tracker.create_issue("a postmortem", labels=["postmortem"])  # not an incident
    ongoing = tracker.create_issue("frontend errors", labels=[Label.INCIDENT])
    t = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    assert sorted(incident_history(tracker)()) == [(resolved.number, t, t + 60), (ongoing.number, t + 180, None)]


def test_a_window_with_time_left_out_counts_only_the_rest() -> None:
    assert TelemetryWindow(start_us=0, end_us=10_000_000, excluded_us=4_000_000).seconds == 6.0


# --- the bundle: bounded, redacted ------------------------------------------------------------------

SECRETS = [
    ("password=hunter2", "hunter2"),
    ("DB_PASSWORD: s3cr3t-value", "s3cr3t-value"),
    ('{"api_key": "abcd1234efgh"}', "abcd1234efgh"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", "eyJhbGciOiJIUzI1NiJ9"),
    ("using sk-proj-AbCdEf0123456789xyz", "sk-proj-AbCdEf0123456789xyz"),
    ("token ghp_0123456789abcdefABCDEF0123", "ghp_0123456789abcdefABCDEF0123"),
    ("postgres://app:pa55word@db:5432/x", "pa55word"),
    ("key AKIAABCDEFGHIJKLMNOP used", "AKIAABCDEFGHIJKLMNOP"),
    ("opaque Zm9vYmFyQmF6UXV4MTIzNDU2Nzg5MGFiY2RlZg used", "Zm9vYmFyQmF6UXV4MTIzNDU2Nzg5MGFiY2RlZg"),
]


@pytest.mark.parametrize(("text", "secret"), SECRETS, ids=[s[1][:12] for s in SECRETS])
def test_redact_strips_secret_looking_values(text: str, secret: str) -> None:
    out = redact(text)
    assert secret not in out and REDACTED in out


def test_redact_keeps_trace_ids_and_plain_text() -> None:
    text = "trace 4bf92f3577b34da6a3ce929d0e0e4736/00f067aa0ba902b7 took 812 ms in GET /users/{user_id}"
    assert redact(text) == text


def big_diagnosis() -> Diagnosis:
    evidence = [Ev(kind=EvidenceKind.LOG, signal="log_pattern", service=f"svc-{i}", detail="x" * 900 + " password=p4ss",
                   refs=[f"{i:032x}/{i:016x}"]) for i in range(8)]
    return Diagnosis(candidates=[Candidate(service=f"svc-{i}", score=10.0 - i, fault_class=FaultClass.ERRORS,
                                           evidence=evidence) for i in range(10)],
                     fault_class=FaultClass.ERRORS, confidence=0.8, summary="svc-0 errors")


def test_bundle_is_bounded_and_redacted() -> None:
    events = [event("svc-0", RuntimeEventKind.RESTARTED, i) for i in range(50)]
    inc = TelemetryWindow(start_us=INC, end_us=INC + 10**8, events=events, changes=[BAD_CHANGE] * 20)
    bundle = build_bundle(item("svc-0", "error_rate"), Evidence(incident=inc, baseline=inc), big_diagnosis())
    text = bundle.render()
    assert len(text) <= MAX_BUNDLE_CHARS
    assert "p4ss" not in text and "svc-0" in text
    assert len(bundle.candidates) <= 5 and all(len(c.evidence) <= 5 for c in bundle.candidates)
    assert len(bundle.events) <= 10 and len(bundle.changes) <= 5 and 0 < len(bundle.trace_ids) <= 5


def test_changes_name_the_service_and_keys_never_values() -> None:
    def fleet(premium: int, password: str) -> dict[str, object]:
        config = {"MAX_POLICY_PREMIUM": premium, "DB_PASSWORD": password}
        return {"services": {"policy-service": {"version": "1", "config": config}, "quote-service": {"version": "1"}}}

    before, after = fleet(10000, "x1"), fleet(1, "x2")
    [change] = diff_services(before, after, 5, "abc1234")
    assert (change.service, change.kind) == ("policy-service", ChangeKind.CONFIG)
    assert "MAX_POLICY_PREMIUM" in change.summary and "DB_PASSWORD" in change.summary
    assert not any(v in change.summary for v in ("10000", "x1", "x2"))


# --- validating the model's answer (the real client path is in tests/e2e/test_brain_llm.py) -----------

def engine_for_bundle() -> tuple[Diagnosis, EvidenceBundle]:
    evidence = Evidence(incident=window(INC, Fault(user_extra_ms=800), 2), baseline=window(T0, Fault(), 1))
    engine = diagnose_windows(item("frontend", "latency_p95"), evidence)
    return engine, build_bundle(item("frontend", "latency_p95"), evidence, engine)


def answer(**over: object) -> str:
    import json

    doc = {"summary": "user-service is slow", "root_cause_service": "user-service", "fault_class": "latency",
           "action": "restart", "confidence": 80, "what_would_change_my_mind": "user-service self time normal"}
    return json.dumps({**doc, **over})


@pytest.mark.parametrize("content", [
    answer(root_cause_service="billing"),  # not a candidate with evidence
    answer(fault_class="bad_change", action="restart"),  # a restart does not undo a change
    answer(confidence=140),  # outside 0..100
    '{"summary": "cut off',  # truncated JSON
    None,  # no content at all
])
def test_invalid_answers_are_rejected(content: str | None) -> None:
    _, bundle = engine_for_bundle()
    with pytest.raises(LLMRejected):
        parse_answer(content, bundle)


def test_valid_answer_is_adopted_and_says_the_llm_decided() -> None:
    engine, bundle = engine_for_bundle()
    assert "user-service" in answer_schema(bundle)["properties"]["root_cause_service"]["enum"]
    decided = adopt(engine, parse_answer(answer(fault_class="errors", summary="token=abc123 leaked"), bundle))
    assert decided.decided_by == DecidedBy.LLM and decided.top is not None
    assert (decided.top.service, decided.fault_class, decided.confidence) == ("user-service", FaultClass.ERRORS, 0.8)
    assert "abc123" not in decided.summary and decided.action == "restart"


def cand(service: str, score: float, fault: FaultClass) -> Candidate:
    return Candidate(service=service, score=score, fault_class=fault,
                     evidence=[Ev(kind=EvidenceKind.SPAN, signal="error_origin", service=service, score=score)])


@pytest.mark.parametrize(("candidates", "top", "fault"), [
    # a victim's errors outscore the changed service: the change (with its own symptoms) goes first
    ([cand("frontend", 32.8, FaultClass.ERRORS), cand("policy-service", 20.0, FaultClass.BAD_CHANGE)],
     "policy-service", FaultClass.BAD_CHANGE),
    # a crash seen by the runtime goes ahead of latency statistics
    ([cand("frontend", 12.0, FaultClass.LATENCY), cand("quote-service", 9.0, FaultClass.CRASH_OOM)],
     "quote-service", FaultClass.CRASH_OOM),
    # too weak next to the top (below a quarter of its score): the engine's order stands
    ([cand("user-service", 40.0, FaultClass.LATENCY), cand("policy-service", 5.0, FaultClass.BAD_CHANGE)],
     "user-service", FaultClass.LATENCY),
    # the top already has direct evidence: it stays, and a small lead no longer makes it inconclusive
    ([cand("quote-service", 20.0, FaultClass.CRASH_OOM), cand("user-service", 19.5, FaultClass.ERRORS)],
     "quote-service", FaultClass.CRASH_OOM),
])
def test_direct_evidence_goes_first(candidates: list[Candidate], top: str, fault: FaultClass) -> None:
    from agents.brain.diagnose import direct_evidence_first

    empty = TelemetryWindow(start_us=INC, end_us=INC + 10**8)
    engine = Diagnosis(candidates=candidates, fault_class=candidates[0].fault_class, inconclusive=True)
    diagnosis = direct_evidence_first(engine, empty)
    assert diagnosis.top is not None and (diagnosis.top.service, diagnosis.fault_class) == (top, fault)
    assert diagnosis.inconclusive == (fault not in (FaultClass.CRASH_OOM, FaultClass.BAD_CHANGE))
    assert len(diagnosis.candidates) == len(candidates)


def test_a_stopped_service_goes_first_as_unavailable() -> None:
    from agents.brain.diagnose import direct_evidence_first

    # callers' breakers opened: quote-service's behaviour changed most, but user-service was stopped
    candidates = [cand("quote-service", 30.0, FaultClass.BUSINESS_LOGIC), cand("user-service", 6.0, FaultClass.LATENCY)]
    stopped = TelemetryWindow(start_us=INC, end_us=INC + 10**8, events=[
        event("user-service", RuntimeEventKind.STARTED, -100), event("user-service", RuntimeEventKind.STOPPED, 5)])
    diagnosis = direct_evidence_first(Diagnosis(candidates=candidates, fault_class=FaultClass.BUSINESS_LOGIC), stopped)
    assert diagnosis.top is not None and diagnosis.top.service == "user-service"
    assert diagnosis.fault_class == FaultClass.DEPENDENCY_UNAVAILABLE and not diagnosis.inconclusive
    assert diagnosis.top.evidence[0].signal == "runtime:stopped"
    # started again afterwards (a config rollout's restart): not down, the engine's order stands
    back = event("user-service", RuntimeEventKind.STARTED, 9)
    restarted = stopped.model_copy(update={"events": [*stopped.events, back]})
    assert direct_evidence_first(Diagnosis(candidates=candidates), restarted).top == candidates[0]


def test_load_sources_are_services_without_server_spans() -> None:
    from agents.brain.evidence import load_sources

    spans = window(INC, Fault(), 2).spans
    traffic = [s.model_copy(update={"service": "traffic", "kind": SpanKind.INTERNAL}) for s in spans[:3]]
    assert load_sources([*spans, *traffic]) == {"traffic"}


@pytest.mark.parametrize("url", [None, "closed"])
def test_unreachable_trace_store_falls_back_to_the_signal_rule(tmp_path: Path, url: str | None) -> None:
    from agents.brain.diagnose import LiveDiagnoser
    from agents.brain.evidence import LiveEvidence
    from sre_space.config import Settings
    from sre_space.net import free_port

    home = tmp_path
    traces = f"http://127.0.0.1:{free_port()}" if url else None  # nothing listens there
    evidence = LiveEvidence(home, traces, control=lambda *a, **k: {"events": [], "lines": []})
    settings = Settings(OPENAI_API_KEY=None, OPENAI_BASE_URL=None)
    diagnosis = LiveDiagnoser(settings, home, evidence=evidence)(item("quote-service", "oom_killed"))
    assert diagnosis.top is not None and diagnosis.fault_class == FaultClass.CRASH_OOM
    assert "trace store unreachable" in diagnosis.summary and diagnosis.notes
