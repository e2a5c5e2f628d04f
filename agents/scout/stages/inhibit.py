"""Inhibit: a symptom explained by another firing one opens nothing. Rules, in the manner of
Alertmanager's inhibit rules:
- a crash (down, exited, OOM-killed, crash loop) of a service inhibits the non-crash symptoms of
  every service that calls it, directly or not;
- a broker outage inhibits every signal that depends on the event bus (business SLIs, consumer
  lag, readiness);
- an SLO burn rate still firing when its incident was resolved (``settling``) is explained by
  that incident until it clears once.
The inhibited fingerprint is counted on the source's open incident, if it has one."""

from __future__ import annotations

from agents.scout.stages.base import Context, Decision, Reason
from agents.scout.symptoms import BROKER, Signal, Symptom, depends_on_bus, is_crash


def source_of(symptom: Symptom, ctx: Context) -> Symptom | None:
    """The firing symptom that explains ``symptom``, if any."""
    for source in ctx.signals.firing():
        if source.fingerprint == symptom.fingerprint:
            continue
        if source.service == BROKER and source.signal == Signal.BROKER_UNAVAILABLE and depends_on_bus(symptom.signal):
            return source
        if (is_crash(source.signal) and not is_crash(symptom.signal) and source.service != symptom.service
                and ctx.topology.depends_on(symptom.service, source.service)):
            return source
    return None


class Inhibit:
    name = "inhibit"

    def __call__(self, symptom: Symptom, ctx: Context) -> Symptom | Decision:
        settling = ctx.signals.get(symptom.fingerprint).settling
        if settling is not None:
            return ctx.decide(self.name, symptom.fingerprint, Reason.INHIBITED,
                              "settling: its burn-rate windows still hold the fault of a resolved incident",
                              ctx.book.incidents.get(settling))
        source = source_of(symptom, ctx)
        if source is None:
            return symptom
        incident = ctx.book.open_for(source.fingerprint)
        if incident is not None:
            incident.related[symptom.fingerprint] = incident.related.get(symptom.fingerprint, 0) + 1
            incident.unreported += 1
        return ctx.decide(self.name, symptom.fingerprint, Reason.INHIBITED, f"explained by {source.fingerprint}",
                          incident)
