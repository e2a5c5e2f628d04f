"""Resolve: an open incident whose every fingerprint has been healthy for
``healthy_checks_to_resolve`` checks in a row (or unreported for ``stale_after_s``) is resolved,
unless one of them is flapping. When the primary fingerprint has recovered but others still fire
(a restart is over, the conversion is still down), the most specific of those becomes the primary,
so the title and the service label say what is still wrong.

SLO burn rates look back over their windows (the slowest alert's short window is minutes long),
so they keep firing after the fault is gone: they raise an incident's severity but do not hold
its resolution when it has other fingerprints, and one still firing at resolution is marked
``settling`` (``inhibit`` then keeps it from reopening the incident until it clears once)."""

from __future__ import annotations

from agents.scout.book import IncidentState, TrackedIncident
from agents.scout.stages.base import Context, Decision, EffectKind, Reason
from agents.scout.stages.flapping import Flapping
from agents.scout.symptoms import signal_rank
from sre_space.models.events import WorkItemKind


class Resolve:
    name = "resolve"

    def __call__(self, incident: TrackedIncident, ctx: Context) -> Decision | None:
        need, stale = ctx.cfg.healthy_checks_to_resolve, False
        current = [fp for fp in incident.fingerprints if ":slo." not in fp] or list(incident.fingerprints)
        moved = self._move_primary(incident, current, ctx)
        if moved is not None:
            return moved
        for fp in current:
            st = ctx.signals.get(fp)
            if st.firing is not None:
                return None
            if st.healthy < need:
                if ctx.now - st.last_seen <= ctx.cfg.stale_after_s:
                    return None
                stale = True
        if Flapping.holds(incident, ctx):
            if incident.flapping:
                return None
            incident.flapping = True
            ctx.effect(EffectKind.UPDATE, incident)
            ctx.effect(EffectKind.COMMENT, incident, "Healthy again, but flapping: auto-resolve is held until the "
                       f"signal stops changing state for {ctx.cfg.flap_window_s:g}s.")
            return ctx.decide(self.name, incident.fingerprint, Reason.RESOLVE_HELD, "flapping", incident)
        incident.state, incident.resolved_at, incident.flapping = IncidentState.RESOLVED, ctx.now, False
        for fp in incident.fingerprints:
            st = ctx.signals.get(fp)
            if st.firing is not None:
                st.settling = incident.key
        why = (f"no detector reported its signals for {ctx.cfg.stale_after_s:g}s" if stale
               else f"healthy for {need} consecutive checks")
        ctx.effect(EffectKind.RESOLVE, incident, f"Resolved: {why}.", work=WorkItemKind.RESOLVED)
        return ctx.decide(self.name, incident.fingerprint, Reason.RESOLVED_STALE if stale else Reason.RESOLVED,
                          why, incident)

    def _move_primary(self, incident: TrackedIncident, current: list[str], ctx: Context) -> Decision | None:
        primary = ctx.signals.get(incident.fingerprint)
        if primary.firing is not None or primary.healthy < ctx.cfg.healthy_checks_to_resolve:
            return None
        firing = [st.firing for fp in current if (st := ctx.signals.get(fp)).firing is not None]
        if not firing:
            return None
        lead = min(firing, key=lambda s: (s.service != incident.service, signal_rank(s.signal), s.severity))
        old = incident.fingerprint
        incident.service, incident.signal = lead.service, lead.signal
        incident.summary, incident.evidence = lead.summary, dict(lead.evidence)
        ctx.effect(EffectKind.UPDATE, incident, work=WorkItemKind.UPDATED)
        ctx.effect(EffectKind.COMMENT, incident, f"{old} recovered; still firing: {lead.fingerprint}. {lead.summary}")
        return ctx.decide(self.name, lead.fingerprint, Reason.PRIMARY_MOVED, f"{old} recovered", incident)
