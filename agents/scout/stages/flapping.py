"""Flapping: a signal that changed state ``flap_changes`` times within ``flap_window_s`` is
flapping. It skips ``pending`` (it never fires twice in a row, yet it is a problem) and its
incident is not auto-resolved until it calms down (``resolve`` asks ``holds``), so a flapping
service is one open incident with a counter, not a stream of opens and resolves."""

from __future__ import annotations

from agents.scout.book import TrackedIncident
from agents.scout.stages.base import Context, Decision, Reason
from agents.scout.symptoms import Symptom


class Flapping:
    name = "flapping"

    def __call__(self, symptom: Symptom, ctx: Context) -> Symptom | Decision:
        if not ctx.flapping(symptom.fingerprint):
            return symptom
        ctx.note(self.name, symptom.fingerprint, Reason.FLAPPING,
                 f"{ctx.cfg.flap_changes}+ state changes in {ctx.cfg.flap_window_s:g}s: auto-resolve held")
        return symptom.model_copy(update={"evidence": {**symptom.evidence, "flapping": True}})

    @staticmethod
    def holds(incident: TrackedIncident, ctx: Context) -> bool:
        return any(ctx.flapping(fp) for fp in incident.fingerprints)
