"""RED per service from ``/metrics``: request rate, error ratio (5xx) and p95 latency over a
recent window, compared with the same service's own baseline (the minutes before the window).

Scrapes are cumulative counters (``http_server_requests_total{method,route,status}`` and the
``http_server_request_duration_seconds`` histogram); a window is the difference of two scrapes.
Probe routes are left out (Scout's own probes would dilute everything). A counter that goes
down means the process restarted: that service's history starts again.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from agents.scout.symptoms import Check, CheckStatus, Clear, Clock, Detector, Signal, Symptom
from sre_space.models.scout import RedSettings

REQUESTS = "http_server_requests_total"
BUCKETS = "http_server_request_duration_seconds_bucket"
_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\}\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Totals:
    """Cumulative counts of one scrape (probe routes excluded)."""

    at: float
    requests: float
    errors: float
    buckets: tuple[tuple[float, float], ...]  # (le, cumulative count), ascending le


def parse_metrics(text: str, at: float, ignore_routes: list[str]) -> Totals:
    """The totals of a Prometheus exposition page (only the two families RED needs)."""
    requests = errors = 0.0
    buckets: dict[float, float] = {}
    ignored = set(ignore_routes)
    for line in text.splitlines():
        if not line.startswith(("http_server_requests_total{", "http_server_request_duration_seconds_bucket{")):
            continue
        match = _LINE.match(line)
        if match is None:
            continue
        name, raw_labels, raw_value = match.groups()
        labels = dict(_LABEL.findall(raw_labels))
        if labels.get("route") in ignored:
            continue
        try:
            value = float(raw_value)
        except ValueError:
            continue
        if name == REQUESTS:
            requests += value
            if labels.get("status", "").startswith("5"):
                errors += value
        elif name == BUCKETS and "le" in labels:
            le = float(labels["le"])  # "+Inf" parses as inf
            buckets[le] = buckets.get(le, 0.0) + value
    return Totals(at, requests, errors, tuple(sorted(buckets.items())))


@dataclass(frozen=True)
class WindowStats:
    """Requests between two scrapes."""

    seconds: float
    requests: float
    errors: float
    buckets: tuple[tuple[float, float], ...]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def error_ratio(self) -> float:
        return self.errors / self.requests if self.requests > 0 else 0.0

    def quantile(self, q: float) -> float | None:
        """``histogram_quantile``: linear interpolation inside the bucket holding rank q."""
        if not self.buckets or self.buckets[-1][1] <= 0:
            return None
        rank = q * self.buckets[-1][1]
        lower_le, lower_count = 0.0, 0.0
        for le, count in self.buckets:
            if count >= rank:
                if le == float("inf"):
                    return lower_le  # beyond the last finite bound: report that bound
                span = count - lower_count
                return lower_le + (le - lower_le) * ((rank - lower_count) / span if span > 0 else 1.0)
            lower_le, lower_count = le, count
        return lower_le

    def within(self, threshold_s: float) -> float:
        """Requests that took at most the largest bucket bound <= threshold_s."""
        best = 0.0
        for le, count in self.buckets:
            if le <= threshold_s:
                best = count
        return best


def between(old: Totals, new: Totals) -> WindowStats:
    olds = dict(old.buckets)
    return WindowStats(
        seconds=new.at - old.at, requests=new.requests - old.requests, errors=new.errors - old.errors,
        buckets=tuple((le, count - olds.get(le, 0.0)) for le, count in new.buckets),
    )


@dataclass
class History:
    """One service's recent scrapes, oldest first."""

    scrapes: deque[Totals] = field(default_factory=deque)

    def add(self, totals: Totals, keep_s: float) -> None:
        if self.scrapes and totals.requests < self.scrapes[-1].requests:
            self.scrapes.clear()  # the process restarted: its counters began again
        self.scrapes.append(totals)
        while self.scrapes and self.scrapes[0].at < totals.at - keep_s:
            self.scrapes.popleft()

    def _at_or_after(self, t: float) -> Totals | None:
        return next((s for s in self.scrapes if s.at >= t), None)

    def window(self, seconds: float) -> WindowStats | None:
        """The last ``seconds`` (at least two scrapes apart)."""
        if len(self.scrapes) < 2:
            return None
        newest = self.scrapes[-1]
        start = self._at_or_after(newest.at - seconds)
        if start is None or start is newest:
            start = self.scrapes[-2]
        return between(start, newest)

    def last_interval(self) -> WindowStats | None:
        return between(self.scrapes[-2], self.scrapes[-1]) if len(self.scrapes) >= 2 else None

    def baseline(self, window_s: float, min_s: float) -> WindowStats | None:
        """From the oldest scrape to the start of the recent window, if that spans ``min_s``."""
        if len(self.scrapes) < 3:
            return None
        end = self._at_or_after(self.scrapes[-1].at - window_s)
        oldest = self.scrapes[0]
        if end is None or end.at - oldest.at < max(min_s, 1e-9):
            return None
        return between(oldest, end)


def assess(
    service: str, window: WindowStats, baseline: WindowStats | None, cfg: RedSettings, now: float
) -> tuple[list[Symptom], list[Clear]]:
    """The RED verdict for one service."""
    found: list[Symptom] = []
    clears: list[Clear] = []

    def verdict(signal: Signal, fired: bool, value: float, threshold: float, summary: str) -> None:
        if fired:
            found.append(Symptom(
                service=service, signal=signal, detector=Detector.RED, at=now, value=round(value, 4),
                threshold=round(threshold, 4), severity=3, summary=summary,
                evidence={"window_s": round(window.seconds, 1), "requests": window.requests,
                          "rate": round(window.rate, 3),
                          "baseline_rate": round(baseline.rate, 3) if baseline else None},
            ))
        else:
            clears.append(Clear(service=service, signal=signal, at=now))

    if baseline is not None and baseline.rate >= cfg.min_baseline_rps:
        limit = baseline.rate * cfg.drop_ratio
        verdict(Signal.TRAFFIC_DROP, window.rate < limit, window.rate, limit,
                f"{service} traffic fell to {window.rate:.2f}/s (baseline {baseline.rate:.2f}/s)")
    elif window.requests >= cfg.min_requests:
        clears.append(Clear(service=service, signal=Signal.TRAFFIC_DROP, at=now))  # flowing; no baseline yet
    if window.requests < cfg.min_requests:
        return found, clears
    # Without a baseline yet (a fresh Scout, a restarted service) only gross errors count, and no
    # latency at all: a process's first requests are slow, and tails are noisy on a busy host.
    known = baseline is not None and baseline.requests >= cfg.min_requests
    err_limit = max(cfg.error_floor, baseline.error_ratio * cfg.error_factor) if baseline and known else \
        cfg.error_floor * cfg.error_factor
    verdict(Signal.ERROR_RATIO, window.error_ratio >= err_limit, window.error_ratio, err_limit,
            f"{service} answers {window.error_ratio:.0%} of requests with 5xx (limit {err_limit:.0%})")
    p95 = window.quantile(0.95)
    base_p95 = baseline.quantile(0.95) if baseline and known else None
    if p95 is not None and base_p95 is not None:
        lat_limit = max(cfg.latency_floor_s, base_p95 * cfg.latency_factor)
        verdict(Signal.LATENCY_P95, p95 >= lat_limit, p95, lat_limit,
                f"{service} p95 latency is {p95 * 1000:.0f} ms (limit {lat_limit * 1000:.0f} ms)")
    return found, clears


class RedDetector:
    """Scrapes every service's /metrics and judges each against its own history."""

    detector = Detector.RED

    def __init__(
        self, cfg: RedSettings, urls: Callable[[], Mapping[str, str]],
        scrape_all: Callable[[dict[str, str]], Mapping[str, str | None]], clock: Clock,
    ) -> None:
        self.cfg, self._urls, self._scrape_all, self.clock = cfg, urls, scrape_all, clock
        self.history: dict[str, History] = {}

    def check(self) -> Check:
        now = self.clock()
        urls = {name: url + "/metrics" for name, url in self._urls().items()}
        if not urls:
            return Check(detector=self.detector, at=now, status=CheckStatus.NO_DATA, detail="no services to scrape")
        symptoms: list[Symptom] = []
        clears: list[Clear] = []
        keep = self.cfg.baseline_s + self.cfg.window_s
        for name, text in self._scrape_all(urls).items():
            if text is None:
                continue  # down: the health detector says so
            history = self.history.setdefault(name, History())
            history.add(parse_metrics(text, now, self.cfg.ignore_routes), keep)
            window = history.window(self.cfg.window_s)
            if window is not None:
                found, healthy = assess(name, window, history.baseline(self.cfg.window_s, self.cfg.min_baseline_s),
                                        self.cfg, now)
                symptoms += found
                clears += healthy
        return Check(detector=self.detector, at=now, symptoms=symptoms, clears=clears)
