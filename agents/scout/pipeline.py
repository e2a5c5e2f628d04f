"""Scout's pipeline: every check's symptoms go through small stages, each with one job and a
reason for its decision (in the manner of Alertmanager's notification pipeline).

Symptoms: fingerprint → severity → dedupe → group → inhibit → flapping → pending → route.
Open incidents, after every check: report (throttled repeat comments) → resolve.

The pipeline owns no I/O: it updates the ``IncidentBook`` and emits ``Effect``s that
``incidents.IncidentDesk`` applies to the tracker. The clock is whatever time the checks carry,
so the whole pipeline is tested with an injected clock and no sleeps.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from agents.scout.book import IncidentBook, TrackedIncident
from agents.scout.signals import SignalRegistry
from agents.scout.stages.base import Context, Decision, Effect, Reason, Stage
from agents.scout.stages.dedupe import Dedupe
from agents.scout.stages.fingerprint import Fingerprint
from agents.scout.stages.flapping import Flapping
from agents.scout.stages.group import Group
from agents.scout.stages.inhibit import Inhibit
from agents.scout.stages.pending import Pending
from agents.scout.stages.report import Report
from agents.scout.stages.resolve import Resolve
from agents.scout.stages.route import Route
from agents.scout.stages.severity import Severity
from agents.scout.symptoms import Check, Symptom, signal_rank
from agents.scout.topology import Topology
from sre_space.models.scout import ScoutSettings

KEEP_DECISIONS = 500


class Pipeline:
    """Turns checks into incident decisions and tracker effects."""

    def __init__(
        self, cfg: ScoutSettings, book: IncidentBook, topology: Callable[[], Topology],
        known: Callable[[], set[str]],
    ) -> None:
        self.cfg, self.book, self._topology, self._known = cfg, book, topology, known
        self.signals = SignalRegistry()
        self.fingerprint = Fingerprint()
        self.stages: list[Stage] = [self.fingerprint, Severity(), Dedupe(), Group(), Inhibit(), Flapping(),
                                    Pending(), Route()]
        self.report, self.resolve = Report(), Resolve()
        self.effects: list[Effect] = []
        self.recent: deque[Decision] = deque(maxlen=KEEP_DECISIONS)
        self._last_reason: dict[str, Reason] = {}

    def _context(self, now: float) -> Context:
        return Context(self.cfg, self.book, self.signals, self._topology(), self._known(), now,
                       last_reason=self._last_reason)

    def _finish(self, ctx: Context) -> list[Decision]:
        self.effects.extend(ctx.effects)
        self.recent.extend(ctx.decisions)
        return ctx.decisions

    def process(self, check: Check) -> list[Decision]:
        """Record what the check saw, then send each symptom through the stages (most specific
        first, so that a crash opens the incident its consequences then join)."""
        ctx = self._context(check.at)
        for clear in check.clears:
            self.signals.clear(clear)
        for symptom in check.symptoms:
            self.signals.fire(symptom)
        for symptom in sorted(check.symptoms, key=lambda s: (signal_rank(s.signal), s.severity)):
            self._run(symptom, ctx)
        return self._finish(ctx)

    def _run(self, symptom: Symptom, ctx: Context) -> Decision | None:
        current = symptom
        for stage in self.stages:
            result = stage(current, ctx)
            if isinstance(result, Decision):
                return result
            current = result
        return None

    def tick(self, now: float) -> list[Decision]:
        """Report repeats and resolve what is healthy (after each round of checks)."""
        ctx = self._context(now)
        self.signals.expire(now, self.cfg.stale_after_s)
        for incident in self.book.open():
            self.report(incident, ctx)
            self.resolve(incident, ctx)
        self.book.forget_before(now - self.cfg.recurrence_window_s)
        return self._finish(ctx)

    def adopt(self, incidents: Iterable[TrackedIncident], now: float) -> None:
        """Take over incidents rebuilt from the tracker: their signals count as seen now, so a new
        leader waits for fresh checks instead of resolving them as stale."""
        for incident in incidents:
            self.book.add(incident)
            if incident.is_open:
                for fp in incident.fingerprints:
                    self.signals.get(fp).last_seen = now

    def drain(self) -> list[Effect]:
        effects, self.effects = self.effects, []
        return effects
