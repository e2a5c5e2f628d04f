"""Brain's fallback until the RCA engine is wired in: the incident's own service and signal decide
the fault class. The workflow's diagnose node takes any ``Diagnose`` function; this is its default.
"""

from __future__ import annotations

from collections.abc import Callable

from sre_space.models.diagnosis import Candidate, DecidedBy, Diagnosis, FaultClass
from sre_space.models.events import IncidentWorkItem

Diagnose = Callable[[IncidentWorkItem], Diagnosis]

# First match wins, so the business words come before the generic "fail"/"error" ones
# (``policy_failed_ratio`` is a business signal, not a service's error rate).
SIGNAL_WORDS: tuple[tuple[tuple[str, ...], FaultClass], ...] = (
    (("oom", "exit", "crash", "killed", "restart"), FaultClass.CRASH_OOM),
    (("conversion", "business", "purchase", "policy_failed"), FaultClass.BUSINESS_LOGIC),
    (("down", "unavailable", "unreachable", "refused", "health", "ready"), FaultClass.DEPENDENCY_UNAVAILABLE),
    (("latency", "slow", "p95", "p99", "duration"), FaultClass.LATENCY),
    (("error", "5xx", "fail", "exception"), FaultClass.ERRORS),
    (("saturation", "cpu", "memory", "lag", "queue"), FaultClass.SATURATION),
    (("change", "deploy", "config", "version"), FaultClass.BAD_CHANGE),
)


def classify_signal(signal: str) -> FaultClass | None:
    """The fault class a signal name points at, or None when no word of it is known."""
    lowered = signal.lower()
    for words, fault in SIGNAL_WORDS:
        if any(word in lowered for word in words):
            return fault
    return None


def diagnose_by_rule(item: IncidentWorkItem) -> Diagnosis:
    """One candidate (the incident's service) with the class its signal names; inconclusive otherwise."""
    fault = classify_signal(item.signal)
    if fault is None:
        return Diagnosis(
            inconclusive=True, decided_by=DecidedBy.ENGINE,
            summary=f"signal {item.signal!r} of {item.service} names no known fault class",
        )
    return Diagnosis(
        candidates=[Candidate(service=item.service, score=1.0, fault_class=fault)],
        fault_class=fault,
        confidence=0.5,
        decided_by=DecidedBy.ENGINE,
        summary=f"{item.service}: {item.signal} → {fault.value} (rule on the incident's own signal)",
    )
