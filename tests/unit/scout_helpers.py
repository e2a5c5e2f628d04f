"""Builders for Scout's unit tests: symptoms, clears, contexts and a fleet topology, all on an
injected clock (plain numbers of seconds)."""

from __future__ import annotations

from typing import Any

from agents.scout.book import IncidentBook, TrackedIncident
from agents.scout.signals import SignalRegistry
from agents.scout.stages.base import Context
from agents.scout.symptoms import Clear, Detector, Symptom
from agents.scout.topology import Topology
from sre_space.models.scout import ScoutSettings

T0 = 1_800_000_000.0
FLEET = {"traffic", "frontend", "quote-service", "policy-service", "user-service", "broker"}
# traffic -> frontend -> quote-service -> user-service; frontend -> policy-service -> user-service
TOPOLOGY = Topology([("traffic", "frontend"), ("frontend", "quote-service"), ("frontend", "policy-service"),
                     ("quote-service", "user-service"), ("policy-service", "user-service")])


def sym(service: str, signal: str, at: float = T0, severity: int = 3, **evidence: Any) -> Symptom:
    return Symptom(service=service, signal=signal, detector=Detector.HEALTH, at=at, severity=severity,
                   summary=f"{service} {signal}", evidence=evidence)


def clear(service: str, signal: str, at: float = T0) -> Clear:
    return Clear(service=service, signal=signal, at=at)


def context(now: float = T0, book: IncidentBook | None = None, signals: SignalRegistry | None = None,
            cfg: ScoutSettings | None = None) -> Context:
    return Context(cfg or ScoutSettings(), book or IncidentBook(), signals or SignalRegistry(), TOPOLOGY,
                   set(FLEET), now)


def incident(book: IncidentBook, service: str, signal: str, at: float = T0, severity: int = 2,
             number: int | None = None) -> TrackedIncident:
    inc = TrackedIncident(key=book.new_key(), service=service, signal=signal, severity=severity, opened_at=at,
                          summary=f"{service} {signal}", number=number, last_comment_at=at)
    inc.see(sym(service, signal, at, severity))
    return book.add(inc)
