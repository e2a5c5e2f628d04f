"""The incidents Scout manages, as the pipeline sees them: which fingerprints each one holds,
how often they were seen, its severity, its state and its recurrences.

The book is a cache of the tracker, not a second source of truth: ``to_data`` is the
machine-readable block of the incident's body and ``from_data`` reads it back, so a new leader
rebuilds the book from the tracker alone.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from agents.scout.symptoms import Symptom, fingerprint

DATA_KIND = "incident"


class IncidentState(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


@dataclass
class Seen:
    """One fingerprint of an incident: how often and when it was seen, and its latest reading."""

    count: int
    first: float
    last: float
    value: float | None = None
    threshold: float | None = None
    summary: str = ""


@dataclass
class TrackedIncident:
    """One incident; ``service``/``signal`` are its primary (most likely root) fingerprint."""

    key: int
    service: str
    signal: str
    severity: int
    opened_at: float
    summary: str
    number: int | None = None  # the tracker's; None until created, negative while in an outbox
    state: IncidentState = IncidentState.OPEN
    resolved_at: float | None = None
    recurrences: int = 0
    fingerprints: dict[str, Seen] = field(default_factory=dict)  # grouped: they share its lifecycle
    related: dict[str, int] = field(default_factory=dict)  # inhibited: explained by it, counted only
    evidence: dict[str, Any] = field(default_factory=dict)
    last_comment_at: float = 0.0
    unreported: int = 0  # repeats since the last comment
    flapping: bool = False

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.service, self.signal)

    @property
    def count(self) -> int:
        return sum(s.count for s in self.fingerprints.values())

    @property
    def is_open(self) -> bool:
        return self.state == IncidentState.OPEN

    @property
    def last_seen(self) -> float:
        return max((s.last for s in self.fingerprints.values()), default=self.opened_at)

    def services(self) -> set[str]:
        return {fp.split(":", 1)[0] for fp in self.fingerprints}

    def see(self, symptom: Symptom) -> Seen:
        seen = self.fingerprints.get(symptom.fingerprint)
        if seen is None:
            seen = self.fingerprints[symptom.fingerprint] = Seen(0, symptom.at, symptom.at)
        seen.count += 1
        seen.last, seen.value, seen.threshold, seen.summary = symptom.at, symptom.value, symptom.threshold, \
            symptom.summary
        return seen

    def to_data(self) -> dict[str, Any]:
        """The machine-readable block of the incident's body."""
        return {
            "kind": DATA_KIND, "fingerprint": self.fingerprint, "service": self.service, "signal": self.signal,
            "severity": self.severity, "state": self.state.value, "opened_at": self.opened_at,
            "resolved_at": self.resolved_at, "count": self.count, "recurrences": self.recurrences,
            "flapping": self.flapping, "summary": self.summary, "evidence": self.evidence,
            "fingerprints": {fp: vars(seen) for fp, seen in self.fingerprints.items()},
            "related": dict(self.related),
        }

    @classmethod
    def from_data(cls, key: int, number: int, data: dict[str, Any]) -> TrackedIncident:
        inc = cls(
            key=key, number=number, service=str(data["service"]), signal=str(data["signal"]),
            severity=int(data["severity"]), opened_at=float(data["opened_at"]), summary=str(data.get("summary", "")),
            state=IncidentState(data.get("state", "open")), resolved_at=data.get("resolved_at"),
            recurrences=int(data.get("recurrences", 0)), evidence=dict(data.get("evidence") or {}),
            related={str(k): int(v) for k, v in (data.get("related") or {}).items()},
            flapping=bool(data.get("flapping", False)),
        )
        for fp, seen in (data.get("fingerprints") or {}).items():
            inc.fingerprints[str(fp)] = Seen(**seen)
        return inc


class IncidentBook:
    """Scout's incidents by key, with the lookups the stages need."""

    def __init__(self) -> None:
        self.incidents: dict[int, TrackedIncident] = {}
        self._next_key = 1

    def add(self, incident: TrackedIncident) -> TrackedIncident:
        self.incidents[incident.key] = incident
        self._next_key = max(self._next_key, incident.key + 1)
        return incident

    def new_key(self) -> int:
        key = self._next_key
        self._next_key += 1
        return key

    def open(self) -> list[TrackedIncident]:
        return [i for i in self.incidents.values() if i.is_open]

    def open_for(self, fp: str) -> TrackedIncident | None:
        """The open incident that holds ``fp`` (grouped fingerprints included)."""
        return next((i for i in self.incidents.values() if i.is_open and fp in i.fingerprints), None)

    def last_resolved(self, fp: str, since: float) -> TrackedIncident | None:
        """The most recently resolved incident holding ``fp``, resolved at or after ``since``."""
        found = [i for i in self.incidents.values()
                 if not i.is_open and fp in i.fingerprints and (i.resolved_at or 0) >= since]
        return max(found, key=lambda i: i.resolved_at or 0, default=None)

    def forget_before(self, since: float) -> None:
        """Drop resolved incidents too old to recur (the tracker keeps them)."""
        for key in [k for k, i in self.incidents.items() if not i.is_open and (i.resolved_at or 0) < since]:
            del self.incidents[key]
