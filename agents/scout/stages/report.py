"""Report: repeats are counted in memory and reach the tracker at most once per
``comment_every_s`` per incident, as one comment and a rewritten counter in the body."""

from __future__ import annotations

from agents.scout.book import TrackedIncident
from agents.scout.stages.base import Context, Decision, EffectKind, Reason


class Report:
    name = "report"

    def __call__(self, incident: TrackedIncident, ctx: Context) -> Decision | None:
        if not incident.unreported or ctx.now - incident.last_comment_at < ctx.cfg.comment_every_s:
            return None
        n, incident.unreported, incident.last_comment_at = incident.unreported, 0, ctx.now
        related = f"; explained symptoms: {', '.join(sorted(incident.related))}" if incident.related else ""
        ctx.effect(EffectKind.UPDATE, incident)
        ctx.effect(EffectKind.COMMENT, incident,
                   f"Seen {n} more time(s) since the last report ({incident.count} in all){related}.")
        return ctx.decide(self.name, incident.fingerprint, Reason.REPEATS_REPORTED, f"{n} repeats", incident)
