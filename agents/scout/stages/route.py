"""Route: what reaches this stage is a problem of its own. A recurrence within
``recurrence_window_s`` of its incident's resolution reopens that incident and counts the
recurrence (a later issue escalates on the count); anything else opens a new incident."""

from __future__ import annotations

from agents.scout.book import IncidentState, TrackedIncident
from agents.scout.stages.base import Context, Decision, EffectKind, Reason
from agents.scout.symptoms import Symptom
from sre_space.models.events import WorkItemKind


class Route:
    name = "route"

    def __call__(self, symptom: Symptom, ctx: Context) -> Symptom | Decision:
        book, fp = ctx.book, symptom.fingerprint
        previous = book.last_resolved(fp, symptom.at - ctx.cfg.recurrence_window_s)
        flapping = bool(symptom.evidence.get("flapping"))
        if previous is not None:
            previous.state, previous.resolved_at = IncidentState.OPEN, None
            previous.recurrences += 1
            previous.severity = min(previous.severity, symptom.severity)
            previous.flapping |= flapping
            previous.see(symptom)
            previous.last_comment_at, previous.unreported = symptom.at, 0
            ctx.effect(EffectKind.REOPEN, previous, f"Recurrence #{previous.recurrences}: {symptom.summary}",
                       work=WorkItemKind.REOPENED)
            return ctx.decide(self.name, fp, Reason.REOPENED, f"recurrence {previous.recurrences}", previous)
        incident = TrackedIncident(
            key=book.new_key(), service=symptom.service, signal=symptom.signal, severity=symptom.severity,
            opened_at=symptom.at, summary=symptom.summary, evidence=dict(symptom.evidence),
            last_comment_at=symptom.at, flapping=flapping,
        )
        incident.see(symptom)
        book.add(incident)
        ctx.effect(EffectKind.OPEN, incident, work=WorkItemKind.OPENED)
        return ctx.decide(self.name, fp, Reason.OPENED, symptom.summary, incident)
