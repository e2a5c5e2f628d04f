"""Pending: soft signals (readiness, RED, lag) must fire in ``pending_checks`` consecutive checks
before they count, like a Prometheus rule's ``for:``. Crashes, broker outages, business SLIs and
SLO burn rates are already definite (or windowed) and pass at once, as do flapping signals."""

from __future__ import annotations

from agents.scout.stages.base import Context, Decision, Reason
from agents.scout.symptoms import Signal, Symptom

SOFT = frozenset({Signal.NOT_READY, Signal.ERROR_RATIO, Signal.LATENCY_P95, Signal.TRAFFIC_DROP,
                  Signal.CONSUMER_LAG})


class Pending:
    name = "pending"

    def __call__(self, symptom: Symptom, ctx: Context) -> Symptom | Decision:
        if symptom.signal not in SOFT or symptom.evidence.get("flapping"):
            return symptom
        fires = ctx.signals.get(symptom.fingerprint).fires
        if fires >= ctx.cfg.pending_checks:
            return symptom
        return ctx.decide(self.name, symptom.fingerprint, Reason.PENDING, f"{fires}/{ctx.cfg.pending_checks} checks")
