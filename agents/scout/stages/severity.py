"""Severity from SLO impact: a symptom on a service that a burning SLO's service depends on (or
on that service itself) is at least as severe as the SLO's burn-rate alert."""

from __future__ import annotations

from agents.scout.stages.base import Context, Decision, Reason
from agents.scout.symptoms import Symptom


class Severity:
    name = "severity"

    def __call__(self, symptom: Symptom, ctx: Context) -> Symptom | Decision:
        impacts = [
            s for s in ctx.signals.firing()
            if s.signal.startswith("slo.") and s.fingerprint != symptom.fingerprint
            and (s.service == symptom.service or ctx.topology.depends_on(s.service, symptom.service))
        ]
        worst = min(impacts, key=lambda s: s.severity, default=None)
        if worst is None or worst.severity >= symptom.severity:
            return symptom
        ctx.note(self.name, symptom.fingerprint, Reason.SEVERITY_FROM_SLO,
                 f"sev {symptom.severity} → {worst.severity}: {worst.fingerprint} is burning")
        evidence = {**symptom.evidence, "slo_impact": worst.fingerprint}
        return symptom.model_copy(update={"severity": worst.severity, "evidence": evidence})
