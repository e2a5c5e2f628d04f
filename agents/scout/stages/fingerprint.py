"""Fingerprint: a symptom is known by ``service:signal``; symptoms about services the fleet does
not know are reported and go no further (they would open incidents nobody can act on)."""

from __future__ import annotations

from agents.scout.stages.base import Context, Decision, Reason
from agents.scout.symptoms import Symptom


class Fingerprint:
    name = "fingerprint"

    def __init__(self) -> None:
        self.unknown: dict[str, int] = {}

    def __call__(self, symptom: Symptom, ctx: Context) -> Symptom | Decision:
        if symptom.service in ctx.known:
            return symptom
        self.unknown[symptom.service] = self.unknown.get(symptom.service, 0) + 1
        return ctx.decide(self.name, symptom.fingerprint, Reason.UNKNOWN_SERVICE,
                          f"{symptom.service!r} is not a service of the fleet ({symptom.summary})")
