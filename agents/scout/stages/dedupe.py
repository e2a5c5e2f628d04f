"""Dedupe: one open incident per fingerprint. A repeat is counted on it (the counter and a
throttled comment reach the tracker through ``report``), never a new incident; a repeat that is
more severe raises the incident's severity."""

from __future__ import annotations

from agents.scout.stages.base import Context, Decision, EffectKind, Reason
from agents.scout.symptoms import Symptom
from sre_space.models.events import WorkItemKind


class Dedupe:
    name = "dedupe"

    def __call__(self, symptom: Symptom, ctx: Context) -> Symptom | Decision:
        incident = ctx.book.open_for(symptom.fingerprint)
        if incident is None:
            return symptom
        seen = incident.see(symptom)
        incident.unreported += 1
        if symptom.severity < incident.severity:
            before, incident.severity = incident.severity, symptom.severity
            ctx.effect(EffectKind.UPDATE, incident, work=WorkItemKind.UPDATED)
            ctx.effect(EffectKind.COMMENT, incident, f"Severity raised from sev:{before} to sev:{incident.severity}: "
                       f"{symptom.summary}")
            return ctx.decide(self.name, symptom.fingerprint, Reason.SEVERITY_RAISED,
                              f"sev {before} → {incident.severity}", incident)
        return ctx.decide(self.name, symptom.fingerprint, Reason.REPEAT, f"seen {seen.count} times", incident)
