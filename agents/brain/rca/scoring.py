"""From findings to a ranked diagnosis: per service, the best finding of each signal adds up
(independent modalities corroborate one another), then the fault class follows from the kind
of evidence that dominates the top candidate."""

from __future__ import annotations

import math
from collections import defaultdict

from agents.brain.rca.findings import Finding, best_per_service
from sre_space.models.diagnosis import Candidate, Diagnosis, Evidence, FaultClass

MIN_SCORE = 3.0  # below p ~ 0.001 for the best service, nothing stands out: inconclusive
MAX_CANDIDATES = 10
MIN_FINDING = 0.1  # a finding below p ~ 0.8 is noise, not evidence
_SATURATION = ("cpu", "memory", "mem", "thread", "fd", "disk", "saturat", "throttl")


def rank(findings: list[Finding]) -> list[tuple[str, float, list[Finding]]]:
    """Services by total score, each with its findings (best first)."""
    per: dict[str, list[Finding]] = defaultdict(list)
    for f in best_per_service(findings).values():
        if f.score >= MIN_FINDING:
            per[f.service].append(f)
    ranked = []
    for service, items in per.items():
        items.sort(key=lambda f: -f.score)
        ranked.append((service, sum(f.score for f in items), items))
    ranked.sort(key=lambda r: (-r[1], r[0]))
    return ranked


def fault_class(items: list[Finding]) -> FaultClass:
    """The class the dominant evidence of a candidate points to."""
    signals = {f.signal for f in items}
    if "change" in signals and len(items) > 1:
        return FaultClass.BAD_CHANGE
    if signals & {"runtime:oom_killed", "runtime:exited", "runtime:restarted"}:
        return FaultClass.CRASH_OOM
    for f in items:
        s = f.signal
        if s == "missing_callee":
            return FaultClass.DEPENDENCY_UNAVAILABLE
        if s.startswith("metric:"):
            if any(word in s.lower() for word in _SATURATION):
                return FaultClass.SATURATION
            continue
        if s in ("self_time", "caller_gap"):
            return FaultClass.LATENCY
        if s == "error_origin":
            return FaultClass.ERRORS
        if s == "call_mix":
            return FaultClass.ERRORS if "ERROR" in f.detail else FaultClass.BUSINESS_LOGIC
    return FaultClass.ERRORS


def diagnose(findings: list[Finding], spans_analysed: int) -> Diagnosis:
    ranked = rank(findings)
    candidates = [
        Candidate(
            service=service, operation=next((f.operation for f in items if f.operation), None),
            score=round(score, 3), fault_class=fault_class(items),
            evidence=[_evidence(f.resolve()) for f in items[:6]],
        )
        for service, score, items in ranked[:MAX_CANDIDATES]
    ]
    if not candidates:
        return Diagnosis(inconclusive=True, summary="no anomaly against the baseline",
                         spans_analysed=spans_analysed)
    top = candidates[0]
    second = candidates[1].score if len(candidates) > 1 else 0.0
    inconclusive = top.score < MIN_SCORE
    # Confidence grows with the top score and with its lead over the runner-up.
    strength = 1 - math.exp(-top.score / 10)
    lead = (top.score - second) / top.score if top.score > 0 else 0.0
    confidence = 0.0 if inconclusive else round(strength * (0.5 + 0.5 * lead), 3)
    lead_ev = top.evidence[0]
    summary = (
        f"nothing stands out (best: {top.service}, score {top.score:.1f})" if inconclusive else
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
