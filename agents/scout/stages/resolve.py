"""Resolve: an open incident whose every fingerprint has been healthy for
``healthy_checks_to_resolve`` checks in a row (or unreported for ``stale_after_s``) is resolved,
unless one of them is flapping."""

from __future__ import annotations

from agents.scout.book import IncidentState, TrackedIncident
from agents.scout.stages.base import Context, Decision, EffectKind, Reason
from agents.scout.stages.flapping import Flapping
from sre_space.models.events import WorkItemKind


class Resolve:
    name = "resolve"

    def __call__(self, incident: TrackedIncident, ctx: Context) -> Decision | None:
        need, stale = ctx.cfg.healthy_checks_to_resolve, False
        for fp in incident.fingerprints:
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
        why = (f"no detector reported its signals for {ctx.cfg.stale_after_s:g}s" if stale
               else f"healthy for {need} consecutive checks")
        ctx.effect(EffectKind.RESOLVE, incident, f"Resolved: {why}.", work=WorkItemKind.RESOLVED)
        return ctx.decide(self.name, incident.fingerprint, Reason.RESOLVED_STALE if stale else Reason.RESOLVED,
                          why, incident)
