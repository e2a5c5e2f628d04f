"""Brain as the workflow's ``diagnose(item) -> Diagnosis``: evidence from the live stack, the RCA
engine, then optionally the LLM.

Order: collect both windows (``evidence.LiveEvidence``) → ``analyze`` (the engine decides) →
``direct_evidence_first`` (a crash or a change on a candidate outweighs span statistics) →
``llm.decide`` (the LLM may re-rank among the candidates with evidence, validated; otherwise the
engine's decision stands). When the trace store cannot be read the rule on the incident's own
signal (``rules.diagnose_by_rule``) answers, and the diagnosis says so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from agents.brain.evidence import EarlierIncidents, LiveEvidence, build_bundle, redact
from agents.brain.evidence import Evidence as Windows
from agents.brain.llm import Reasoner, decide
from agents.brain.rca import analyze
from agents.brain.rca.scoring import MIN_SCORE
from agents.brain.rules import diagnose_by_rule
from sre_space.adapters.runtime.base import RuntimeEvent, RuntimeEventKind
from sre_space.adapters.tracker.base import Tracker
from sre_space.config import Settings
from sre_space.errors import BackendError
from sre_space.models.diagnosis import Candidate, Diagnosis, Evidence, EvidenceKind, FaultClass
from sre_space.models.events import IncidentWorkItem
from sre_space.models.incident import Label
from sre_space.models.window import TelemetryWindow
from sre_space.stack.state import read_state

log = logging.getLogger("sre_space.brain")

DIRECT = frozenset({FaultClass.CRASH_OOM, FaultClass.BAD_CHANGE})
DIRECT_SHARE = 0.25
LIFECYCLE = frozenset({RuntimeEventKind.STARTED, RuntimeEventKind.RESTARTED, RuntimeEventKind.STOPPED,
                       RuntimeEventKind.EXITED, RuntimeEventKind.OOM_KILLED})


def traces_url(settings: Settings, home: Path) -> str | None:
    """``JAEGER_QUERY_URL``, else the embedded trace store of the stack running in ``home``."""
    if settings.jaeger_query_url:
        return settings.jaeger_query_url
    state = read_state(home)
    comp = next((c for c in state.components if c.name == "traces" and c.url), None) if state else None
    return comp.url if comp else None


def incident_history(tracker: Tracker) -> EarlierIncidents:
    """The tracker's incidents, as ``(number, opened, resolved)``, for baselines to leave out."""
    def read() -> list[tuple[int, float, float | None]]:
        return [(i.number, i.created_at.timestamp(), i.closed_at.timestamp() if i.closed_at else None)
                for i in tracker.list_issues("all", [Label.INCIDENT]) if not i.pending]
    return read


def down_services(incident: TelemetryWindow) -> dict[str, RuntimeEvent]:
    """Services whose last lifecycle event in the window is a stop or an exit (not back yet)."""
    last: dict[str, RuntimeEvent] = {}
    for event in sorted(incident.events, key=lambda e: e.time):
        if event.kind in LIFECYCLE:
            last[event.service] = event
    return {s: e for s, e in last.items() if e.kind in (RuntimeEventKind.STOPPED, RuntimeEventKind.EXITED)}


def _mark_down(candidates: list[Candidate], service: str, event: RuntimeEvent) -> Candidate:
    """``service``'s candidate with the stop as its first evidence (a new one if it had none)."""
    found = next((c for c in candidates if c.service == service), None)
    item = Evidence(kind=EvidenceKind.EVENT, signal=f"runtime:{event.kind.value}", service=service,
                    incident=1.0, unit="events", detail=f"{event.instance} {event.kind.value} and not started again",
                    refs=[f"{event.instance}@{event.time.isoformat()}"])
    if found is None:
        return Candidate(service=service, score=0.0, fault_class=FaultClass.DEPENDENCY_UNAVAILABLE, evidence=[item])
    fault = found.fault_class if found.fault_class == FaultClass.CRASH_OOM else FaultClass.DEPENDENCY_UNAVAILABLE
    return found.model_copy(update={"fault_class": fault, "evidence": [item, *found.evidence]})


def direct_evidence_first(diagnosis: Diagnosis, incident: TelemetryWindow) -> Diagnosis:
    """Runtime events and changes weigh heavily. First, a service the runtime saw stop or exit
    and not come back (its callers fail fast once their circuit breakers open, so span
    statistics soon blame the callers). Else a candidate the runtime saw crash, or whose own
    symptoms follow a change to it (the engine's ``crash_oom`` / ``bad_change``), goes ahead of
    candidates with statistical evidence only, if it has at least ``DIRECT_SHARE`` of their
    score: victims of a crash or a bad rollout can outscore it on span statistics alone."""
    top = diagnosis.top
    if top is None and not incident.events:
        return diagnosis
    down = [_mark_down(diagnosis.candidates, s, e) for s, e in sorted(down_services(incident).items())]
    if down:
        best = max(down, key=lambda c: c.score)
        why = f"{best.service} is down (runtime: {best.evidence[0].signal.removeprefix('runtime:')})"
    else:
        direct = [c for c in diagnosis.candidates if c.fault_class in DIRECT and c.evidence]
        if top is None or not direct:
            return diagnosis
        best = top if top.fault_class in DIRECT else max(direct, key=lambda c: c.score)
        if best.score < DIRECT_SHARE * top.score:
            return diagnosis
        why = f"{best.service} ranked first on direct evidence (runtime event or change)"
    if top is not None and top.service == best.service and top.fault_class == best.fault_class:
        if not diagnosis.inconclusive or best.score < MIN_SCORE:
            return diagnosis
        why = f"{best.service} singled out by direct evidence (runtime event or change) though its lead is small"
    lead = best.evidence[0]
    rest = [c for c in diagnosis.candidates if c.service != best.service]
    runner_up = f" over {top.service} ({top.fault_class.value}, score {top.score:.1f})" if top and rest else ""
    return diagnosis.model_copy(update={
        "candidates": [best, *rest],
        "fault_class": best.fault_class,
        "inconclusive": False if down else best.score < MIN_SCORE,
        "confidence": max(diagnosis.confidence, 0.5) if down else diagnosis.confidence,
        "summary": f"{best.service} ({best.fault_class.value}): {lead.signal} {lead.detail}".strip()[:300],
        "notes": [*diagnosis.notes, why + runner_up],
    })


def diagnose_windows(item: IncidentWorkItem, evidence: Windows, reasoner: Reasoner | None = None) -> Diagnosis:
    """Engine, then LLM, on already collected windows (pure apart from the LLM call)."""
    engine = direct_evidence_first(analyze(evidence.incident, evidence.baseline), evidence.incident)
    if evidence.notes:
        engine = engine.model_copy(update={"notes": [*engine.notes, *evidence.notes]})
    return decide(engine, build_bundle(item, evidence, engine), reasoner)


class LiveDiagnoser:
    """The workflow's diagnose function on the stack of ``home``; ``llm`` defaults to the one the
    settings configure (none without ``OPENAI_API_KEY``/``OPENAI_BASE_URL``). ``earlier`` lists
    the tracker's incidents, whose time the baselines leave out."""

    def __init__(
        self,
        settings: Settings,
        home: Path,
        llm: Reasoner | None = None,
        *,
        evidence: LiveEvidence | None = None,
        now: Callable[[], float] = time.time,
        earlier: EarlierIncidents | None = None,
    ) -> None:
        self.settings, self.home = settings, home
        self.llm = llm if llm is not None else Reasoner.from_settings(settings)
        self._evidence = evidence
        self._now, self._earlier = now, earlier
        self.last_seconds: dict[str, float] = {}

    def evidence(self) -> LiveEvidence:
        # Resolved per call: the stack (and its trace store URL) may start after the worker.
        return self._evidence or LiveEvidence(self.home, traces_url(self.settings, self.home), now=self._now,
                                              earlier=self._earlier)

    def __call__(self, item: IncidentWorkItem) -> Diagnosis:
        started = time.monotonic()
        try:
            evidence = self.evidence().collect(item)
        except BackendError as exc:
            reason = redact(str(exc))[:200]
            log.warning("incident #%s: trace store unreachable (%s); the signal rule decides", item.incident, reason)
            rule = diagnose_by_rule(item)
            return rule.model_copy(update={
                "summary": f"{rule.summary} (trace store unreachable: rule on the signal used)",
                "notes": [f"trace store unreachable: {reason}"],
            })
        collected = time.monotonic()
        diagnosis = diagnose_windows(item, evidence, self.llm)
        self.last_seconds = {"collect": collected - started, "decide": time.monotonic() - collected}
        log.info("incident #%s diagnosed by %s in %.1fs: %s", item.incident, diagnosis.decided_by.value,
                 time.monotonic() - started, diagnosis.summary)
        return diagnosis
