"""SLOs declared in config: error budgets and multi-window, multi-burn-rate alerts (Google SRE
workbook, "Alerting on SLOs", method 6).

Availability and latency SLOs add one sample (good and total requests of the interval) per
metrics interval to the shared state, from the RED detector's latest scrape of the service;
business SLOs read the per-second Kafka event counts directly, so a window's sums are exact even
when the counting (possibly in other Scout processes) lags a little. The burn rate over a window is
``(1 - good/total) / (1 - objective)``; an alert fires when both its long and its short window
burn at least its rate (the short window makes it stop soon after the fault stops). The most
severe firing alert becomes the symptom ``slo.<name>`` with that alert's severity, which is how
an incident's severity follows its SLO impact.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from agents.scout.detectors.business import CATCHING_UP
from agents.scout.detectors.red import RedDetector
from agents.scout.state import ScoutState
from agents.scout.symptoms import Check, Clear, Clock, Detector, Symptom, slo_signal
from sre_space.models.scout import SLO, BurnAlert, ScoutSettings, SLIKind

MIN_EVENTS = 10  # fewer events in an alert's long window = no verdict


class BurnRate(BaseModel):
    """The burn rate of one window (None: no events in it)."""

    model_config = ConfigDict(frozen=True)

    window_s: float
    rate: float | None
    events: float


class SLOStatus(BaseModel):
    """Where one SLO stands: its SLI over the budget period, the budget left, the burn rates."""

    model_config = ConfigDict(frozen=True)

    slo: SLO
    period_s: float
    sli: float | None
    events: float
    budget_remaining: float | None  # 1.0 = untouched, 0 = spent, negative = overspent
    burn: list[BurnRate]
    firing: BurnAlert | None


def burn_rate(good: float, total: float, objective: float) -> float | None:
    return None if total <= 0 else max(0.0, 1.0 - good / total) / (1.0 - objective)


def window_sums(state: ScoutState, slo: SLO, cfg: ScoutSettings, now: float, seconds: float) -> tuple[float, float]:
    """(good, total) events of the SLO over the last ``seconds``."""
    if slo.kind != SLIKind.BUSINESS:
        return state.sample_sums(slo.name, now - seconds)
    sli = cfg.business_sli(slo.sli or "")
    end = int(now - sli.settle_s)
    counts = state.type_counts(sli.topics, end - int(seconds), end)
    total = sum(counts.get(t, 0) for t in sli.total)
    if sli.good:
        return min(sum(counts.get(t, 0) for t in sli.good), total), total
    return max(total - sum(counts.get(t, 0) for t in sli.bad), 0), total


def slo_status(state: ScoutState, slo: SLO, cfg: ScoutSettings, now: float) -> SLOStatus:
    """The SLO's standing from the stored samples or event counts."""
    good, total = window_sums(state, slo, cfg, now, cfg.slo_period_s)
    sli = good / total if total > 0 else None
    budget = None if sli is None else 1.0 - (1.0 - sli) / (1.0 - slo.objective)
    windows = sorted({w for a in cfg.burn_alerts for w in (a.long_s, a.short_s)})
    burns = {}
    for w in windows:
        g, t = window_sums(state, slo, cfg, now, w)
        burns[w] = BurnRate(window_s=w, rate=burn_rate(g, t, slo.objective), events=t)
    firing = None
    for alert in sorted(cfg.burn_alerts, key=lambda a: a.severity):
        long, short = burns[alert.long_s], burns[alert.short_s]
        if long.events >= MIN_EVENTS and short.events > 0 and (long.rate or 0) >= alert.burn_rate \
                and (short.rate or 0) >= alert.burn_rate:
            firing = alert
            break
    return SLOStatus(slo=slo, period_s=cfg.slo_period_s, sli=sli, events=total, budget_remaining=budget,
                     burn=[burns[w] for w in windows], firing=firing)


def verdict(status: SLOStatus, now: float) -> Symptom | Clear | None:
    """The symptom of a firing SLO, a clear when it has data and is fine, else None."""
    slo = status.slo
    if status.firing is None:
        longest = max(status.burn, key=lambda b: b.window_s, default=None)
        return Clear(service=slo.service, signal=slo_signal(slo.name), at=now) if longest and longest.events else None
    alert = status.firing
    short = next(b for b in status.burn if b.window_s == alert.short_s)
    long = next(b for b in status.burn if b.window_s == alert.long_s)
    return Symptom(
        service=slo.service, signal=slo_signal(slo.name), detector=Detector.SLO, at=now,
        value=round(long.rate or 0.0, 2), threshold=alert.burn_rate, severity=alert.severity,
        summary=(f"SLO {slo.name} ({slo.objective:.1%} {slo.kind.value}) burns its error budget {long.rate:.1f}x "
                 f"over {alert.long_s:g}s and {short.rate:.1f}x over {alert.short_s:g}s"),
        evidence={"budget_remaining": status.budget_remaining, "sli": status.sli,
                  "burn": {f"{b.window_s:g}s": b.rate for b in status.burn}},
    )


class SloDetector:
    """Samples each SLO once per interval and judges its burn rates."""

    detector = Detector.SLO

    def __init__(self, cfg: ScoutSettings, state: ScoutState, red: RedDetector, clock: Clock) -> None:
        self.cfg, self.state, self.red, self.clock = cfg, state, red, clock
        self._sampled: dict[str, float] = {}  # SLO -> time of the scrape last sampled

    def _sample(self, slo: SLO) -> tuple[float, float] | None:
        """Good and total requests since the previous scrape (availability and latency SLOs)."""
        if slo.kind == SLIKind.BUSINESS:
            return None
        history = self.red.history.get(slo.service)
        if history is None or len(history.scrapes) < 2 or self._sampled.get(slo.name) == history.scrapes[-1].at:
            return None
        self._sampled[slo.name] = history.scrapes[-1].at
        interval = history.last_interval()
        if interval is None:
            return None
        if slo.kind == SLIKind.AVAILABILITY:
            return interval.requests - interval.errors, interval.requests
        return interval.within(slo.threshold_s or 0.0), interval.requests

    def check(self) -> Check:
        now = self.clock()
        samples = []
        for slo in self.cfg.slos:
            sample = self._sample(slo)
            if sample is not None and sample[1] > 0:
                samples.append((slo.name, now, float(sample[0]), float(sample[1])))
        if samples:
            self.state.add_samples(samples)
        symptoms: list[Symptom] = []
        clears: list[Clear] = []
        for slo in self.cfg.slos:
            if slo.kind == SLIKind.BUSINESS and self.state.backlog(
                    self.cfg.business_sli(slo.sli or "").topics, now - 10 * self.cfg.metrics_interval_s) > CATCHING_UP:
                continue  # the newest buckets are still being counted
            result = verdict(slo_status(self.state, slo, self.cfg, now), now)
            if isinstance(result, Symptom):
                symptoms.append(result)
            elif isinstance(result, Clear):
                clears.append(result)
        return Check(detector=self.detector, at=now, symptoms=symptoms, clears=clears)
