"""From findings to a ranked diagnosis: per service, the best finding of each signal adds up
(independent modalities corroborate one another), then the fault class follows from the kind
of evidence that dominates the top candidate."""

from __future__ import annotations

import math
from collections import defaultdict

from agents.brain.rca.findings import Finding, best_per_service
from sre_space.models.diagnosis import Candidate, Diagnosis, Evidence, EvidenceKind, FaultClass

MIN_SCORE = 3.0  # below p ~ 0.001 for the best service, nothing stands out: inconclusive
LEAD_RATIO = 1.2  # nor does a best service less than 20 % ahead of the runner-up
MAX_CANDIDATES = 10
MIN_FINDING = 0.1  # a finding below p ~ 0.8 is noise, not evidence


def rank(findings: list[Finding], traced: frozenset[str] = frozenset()) -> list[tuple[str, float, list[Finding]]]:
    """Services by total score, each with its findings (best first).

    For a service the traces cover (``traced``), a metric anomaly counts in proportion to the
    trace evidence against it, up to ``MIN_SCORE``: a starved or leaking service that hurts
    requests shows it in its own spans, so a lone metric spike on a healthy-looking service is
    not localised by the metric alone. Services without spans keep their metric evidence."""
    per: dict[str, list[Finding]] = defaultdict(list)
    for f in best_per_service(findings).values():
        if f.score >= MIN_FINDING:
            per[f.service].append(f)
    ranked = []
    for service, items in per.items():
        items.sort(key=lambda f: -f.score)
        spans = sum(f.score for f in items if f.kind is not EvidenceKind.METRIC)
        weight = min(1.0, spans / MIN_SCORE) if service in traced else 1.0
        total = sum(f.score * (weight if f.kind is EvidenceKind.METRIC else 1.0) for f in items)
        ranked.append((service, total, items))
    ranked.sort(key=lambda r: (-r[1], r[0]))
    return ranked


def fault_class(items: list[Finding]) -> FaultClass:
    """The class the evidence of a candidate points to (``items`` best first, resolved)."""
    signals = {f.signal for f in items}
    if "change" in signals and len(items) > 1:
        return FaultClass.BAD_CHANGE  # a change plus a symptom: roll it back
    if signals & {"runtime:oom_killed", "runtime:exited", "runtime:restarted"}:
        return FaultClass.CRASH_OOM
    if items[0].signal == "missing_callee":
        return FaultClass.DEPENDENCY_UNAVAILABLE
    if any(f.family == "metric:resource" and f.score >= MIN_SCORE for f in items):
        return FaultClass.SATURATION  # slow or failing because starved of a resource
    for f in items:
        if f.signal in ("self_time", "caller_gap"):
            return FaultClass.LATENCY
        if f.signal in ("error_origin", "log_pattern"):
            return FaultClass.ERRORS
        if f.signal == "call_mix":
            return FaultClass.ERRORS if "ERROR" in f.detail else FaultClass.BUSINESS_LOGIC
    return FaultClass.ERRORS


def diagnose(findings: list[Finding], spans_analysed: int, traced: frozenset[str] = frozenset()) -> Diagnosis:
    """Rank, classify and summarise; ``traced`` are the services the incident's spans cover."""
    ranked = rank(findings, traced)
    candidates = []
    for service, score, items in ranked[:MAX_CANDIDATES]:
        shown = [f.resolve() for f in items[:6]]
        candidates.append(Candidate(
            service=service, operation=next((f.operation for f in items if f.operation), None),
            score=round(score, 3), fault_class=fault_class(shown), evidence=[_evidence(f) for f in shown],
        ))
    if not candidates:
        return Diagnosis(inconclusive=True, summary="no anomaly against the baseline",
                         spans_analysed=spans_analysed)
    top = candidates[0]
    second = candidates[1].score if len(candidates) > 1 else 0.0
    inconclusive = top.score < MIN_SCORE or top.score < LEAD_RATIO * second
    # Confidence grows with the top score and with its lead over the runner-up.
    strength = 1 - math.exp(-top.score / 10)
    lead = (top.score - second) / top.score if top.score > 0 else 0.0
    confidence = round(strength * (0.5 + 0.5 * lead), 3) if top.score >= MIN_SCORE else 0.0
    lead_ev = top.evidence[0]
    summary = (
        f"nothing stands out (best: {top.service}, score {top.score:.1f}; runner-up {second:.1f})"
        if inconclusive else
        f"{top.service} ({top.fault_class.value}): {lead_ev.signal} "
        f"{lead_ev.baseline} -> {lead_ev.incident} {lead_ev.unit}".strip()
    )
    return Diagnosis(
        candidates=candidates, fault_class=top.fault_class, confidence=confidence,
        inconclusive=inconclusive, summary=summary, spans_analysed=spans_analysed,
    )


def _evidence(f: Finding) -> Evidence:
    return Evidence(
        kind=f.kind, signal=f.signal, service=f.service, operation=f.operation, baseline=f.baseline,
        incident=f.incident, unit=f.unit, score=round(f.score, 3), detail=f.detail, refs=f.refs,
    )
