"""Group: a new symptom on a service related to an open incident's services (same service, or in
its call path) within ``group_window_s`` of the incident's latest symptom joins that incident. When the
newcomer is the likelier root (a crash further down the call path, a more specific signal on the
same service, the broker) it becomes the incident's primary fingerprint and service label."""

from __future__ import annotations

from agents.scout.book import TrackedIncident
from agents.scout.stages.base import Context, Decision, EffectKind, Reason
from agents.scout.symptoms import BROKER, Symptom, is_crash, signal_rank
from agents.scout.topology import Topology
from sre_space.models.events import WorkItemKind


def likelier_root(symptom: Symptom, incident: TrackedIncident, topology: Topology) -> bool:
    """Should ``symptom`` replace the incident's primary fingerprint?"""
    if incident.service == BROKER:
        return False
    if symptom.service == BROKER:
        return True
    if symptom.service == incident.service:
        return signal_rank(symptom.signal) < signal_rank(incident.signal)
    if topology.depends_on(incident.service, symptom.service):
        return is_crash(symptom.signal) or not is_crash(incident.signal)
    return False


class Group:
    name = "group"

    def __call__(self, symptom: Symptom, ctx: Context) -> Symptom | Decision:
        candidates = [
            inc for inc in ctx.book.open()
            if symptom.at - inc.last_seen <= ctx.cfg.group_window_s
            and any(ctx.topology.related(symptom.service, s) for s in inc.services())
        ]
        if not candidates:
            return symptom
        incident = max(candidates, key=lambda i: i.last_seen)
        incident.see(symptom)
        reason = Reason.GROUPED
        if likelier_root(symptom, incident, ctx.topology):
            old = incident.fingerprint
            incident.service, incident.signal = symptom.service, symptom.signal
            incident.summary, incident.evidence = symptom.summary, dict(symptom.evidence)
            reason = Reason.GROUPED_REROOTED
            text = f"Likelier root found: {symptom.fingerprint} (was {old}). {symptom.summary}"
        else:
            text = f"Related symptom joined: {symptom.fingerprint}. {symptom.summary}"
        raised = symptom.severity < incident.severity
        incident.severity = min(incident.severity, symptom.severity)
        # The workflow hears of material changes only: a new root or a higher severity.
        material = reason == Reason.GROUPED_REROOTED or raised
        ctx.effect(EffectKind.UPDATE, incident, work=WorkItemKind.UPDATED if material else None)
        ctx.effect(EffectKind.COMMENT, incident, text)
        return ctx.decide(self.name, symptom.fingerprint, reason, f"into {incident.fingerprint}", incident)
