"""Metric anomalies: each series (instance or service, metric name) against its own baseline, by
a robust z-score (median and MAD, with a relative floor so flat series do not explode).

Series that move identically on several instances, or are named as host metrics
(``node_*``), are host-wide (a node's CPU, say) and do not localise anything, so they are dropped. Scores are corrected for the number of series tested
(Bonferroni in log space): with hundreds of series some large z-scores are expected by chance."""

from __future__ import annotations

import math
import re
from collections import defaultdict

import numpy as np

from agents.brain.rca.findings import Finding
from sre_space.models.diagnosis import EvidenceKind
from sre_space.models.telemetry import MetricSample

_BAD_WHEN_LOW = re.compile(r"success|availab|uptime|hit.?rate|ready", re.I)
# Resource metrics name a cause (a starved or leaking process); the others (latency, success,
# traffic) are symptoms that callers share with the culprit, and the span tree reads those better.
_RESOURCE = re.compile(r"cpu|mem|heap|gc|thread|fd|file.?desc|disk|swap|throttl|oom", re.I)
_HOST = re.compile(r"^(node|host|machine)", re.I)  # node-exporter style: the host, not the instance
RESOURCE_CAP = 10.0  # one series at one point a minute is never worth more than a strong trace finding
SYMPTOM_CAP = 2.0
_REL_FLOOR = 0.05  # a series' noise is never taken as less than 5 % of its level
_MIN_BASELINE = 3

Series = dict[tuple[str, str, str], list[tuple[int, float]]]


def _series(samples: list[MetricSample]) -> Series:
    out: Series = defaultdict(list)
    for m in samples:
        out[(m.service, m.instance or m.service, m.name)].append((m.time_us, m.value))
    return out


def _host_wide(inc: Series) -> set[tuple[str, str, str]]:
    """Series whose incident readings are identical on more than one instance."""
    groups: dict[tuple[str, tuple[float, ...]], list[tuple[str, str, str]]] = defaultdict(list)
    for key, points in inc.items():
        values = tuple(round(v, 6) for _, v in sorted(points))
        groups[(key[2], values)].append(key)
    return {k for keys in groups.values() if len({k[1] for k in keys}) > 1 for k in keys}


def metric_findings(
    incident: list[MetricSample], baseline: list[MetricSample], traced: set[str] = frozenset()  # type: ignore[assignment]
) -> list[Finding]:
    """Findings per series. Symptom metrics (latency, success, traffic) only count for
    services the span data do not cover (``traced``): where spans exist they say it better."""
    inc, base = _series(incident), _series(baseline)
    shared = _host_wide(inc)
    tested = [k for k in inc if k in base and k not in shared and len(base[k]) >= _MIN_BASELINE
              and not _HOST.search(k[2])]
    if not tested:
        return []
    floors = _typical_noise(base, tested)
    out = []
    for key in tested:
        b = np.array([v for _, v in base[key]])
        x = np.array([v for _, v in inc[key]])
        med = float(np.median(b))
        scale = max(_mad(b), _REL_FLOOR * abs(med), floors[key[2]], 1e-12)
        correction = math.log10(len(tested) * len(x))
        low_is_bad = bool(_BAD_WHEN_LOW.search(key[2]))
        worst = float(x.min() if low_is_bad else x.max())
        z = (med - worst) / scale if low_is_bad else (worst - med) / scale
        resource = bool(_RESOURCE.search(key[2]))
        if not resource and key[0] in traced:
            continue
        score = min(laplace_surprise(z) - correction, RESOURCE_CAP if resource else SYMPTOM_CAP)
        if score <= 0:
            continue
        service, instance, name = key
        out.append(Finding(
            service=service, signal=f"metric:{name}", kind=EvidenceKind.METRIC, score=score,
            family="metric:resource" if resource else "metric:symptom",
            baseline=round(med, 4), incident=round(worst, 4), unit=name,
            detail=f"{instance}: {name} {'fell' if low_is_bad else 'rose'} to {worst:.4g} "
                   f"(baseline median {med:.4g}, robust z {z:.1f})",
            refs=[f"{instance}/{name}"],
        ))
    return out


def _mad(values: np.ndarray) -> float:
    return 1.4826 * float(np.median(np.abs(values - np.median(values))))


def _typical_noise(base: Series, keys: list[tuple[str, str, str]]) -> dict[str, float]:
    """Per metric name, the median noise of its series: a flat series (all zeros, say) borrows
    the noise of its peers instead of turning any change into an infinite z-score."""
    by_name: dict[str, list[float]] = defaultdict(list)
    for key in keys:
        by_name[key[2]].append(_mad(np.array([v for _, v in base[key]])))
    return {name: float(np.median([m for m in mads if m > 0] or [0.0])) for name, mads in by_name.items()}


def laplace_surprise(z: float) -> float:
    """-log10 of the upper tail of a Laplace law at robust z (heavier-tailed than a normal:
    metrics jump for many harmless reasons, so a big z is less surprising than Gauss says)."""
    if z <= 0:
        return 0.0
    return (1.03 * z - math.log(2)) / math.log(10)
