"""Metric anomalies: each series (instance or service, metric name) against its own baseline, by
a robust z-score (median and MAD, with floors so flat series do not explode).

Series that move identically on several instances, or are named as host metrics (``node_*``),
are host-wide (a node's CPU, say) and do not localise anything, so they are dropped. Scores are
corrected for the number of series tested (Bonferroni in log space): with hundreds of series,
some large z-scores are expected by chance. Resource metrics (CPU, memory, threads...) name a
cause; symptom metrics (latency, success, traffic) are shared by the culprit's callers, and the
span tree reads symptoms better, so they only count for services no span covers."""

from __future__ import annotations

import math
import re
from collections import defaultdict

import numpy as np

from agents.brain.rca.findings import Finding
from sre_space.models.diagnosis import EvidenceKind
from sre_space.models.telemetry import MetricSample

_BAD_WHEN_LOW = re.compile(r"success|availab|uptime|hit.?rate|ready", re.I)
_RESOURCE = re.compile(r"cpu|mem|heap|gc|thread|fd|file.?desc|disk|swap|throttl|oom", re.I)
_HOST = re.compile(r"^(node|host|machine)", re.I)  # node-exporter style: the host, not the instance
_REL_FLOOR = 0.05  # a series' noise is never taken as less than 5 % of its level
_MIN_BASELINE = 3
RESOURCE_CAP = 10.0  # one series at one point a minute is never worth more than a strong trace finding
SYMPTOM_CAP = 2.0

Key = tuple[str, str, str]  # service, instance, metric name


class _Columns:
    """Samples as arrays, grouped by series key (ids shared through ``keys``)."""

    def __init__(self, samples: list[MetricSample], keys: dict[Key, int]) -> None:
        ids = [keys.setdefault((m.service, m.instance or m.service, m.name), len(keys)) for m in samples]
        self.key = np.array(ids, np.int64)
        self.time = np.array([m.time_us for m in samples], np.int64)
        self.value = np.array([m.value for m in samples], float)


def _group_median(key: np.ndarray, value: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Median and count of ``value`` per key id (NaN where a key has no value)."""
    order = np.lexsort((value, key))
    k, v = key[order], value[order]
    count = np.bincount(k, minlength=n)
    first = np.concatenate([[0], np.cumsum(count)[:-1]])
    med = np.full(n, np.nan)
    has = count > 0
    lo = first[has] + (count[has] - 1) // 2
    hi = first[has] + count[has] // 2
    med[has] = (v[lo] + v[hi]) / 2
    return med, count


def _host_wide(cols: _Columns, names: list[Key]) -> np.ndarray:
    """Series whose incident readings are identical on more than one instance."""
    groups: dict[tuple[str, tuple[float, ...]], set[str]] = defaultdict(set)
    series: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for k, t, v in zip(cols.key.tolist(), cols.time.tolist(), cols.value.tolist(), strict=True):
        series[k].append((t, v))
    signature = {}
    for k, points in series.items():
        signature[k] = (names[k][2], tuple(round(v, 6) for _, v in sorted(points)))
        groups[signature[k]].add(names[k][1])
    shared = np.zeros(len(names), bool)
    for k, sig in signature.items():
        shared[k] = len(groups[sig]) > 1
    return shared


def metric_findings(
    incident: list[MetricSample], baseline: list[MetricSample], traced: frozenset[str] | set[str] = frozenset()
) -> list[Finding]:
    """Findings per series. Symptom metrics only count for services not in ``traced``."""
    keys: dict[Key, int] = {}
    inc, base = _Columns(incident, keys), _Columns(baseline, keys)
    names = list(keys)
    n = len(names)
    if n == 0:
        return []
    med, count = _group_median(base.key, base.value, n)
    mad, _ = _group_median(base.key, np.abs(base.value - med[base.key]), n)
    mad *= 1.4826
    low_is_bad = np.array([bool(_BAD_WHEN_LOW.search(k[2])) for k in names])
    resource = np.array([bool(_RESOURCE.search(k[2])) for k in names])
    host = np.array([bool(_HOST.search(k[2])) for k in names])
    in_inc = np.bincount(inc.key, minlength=n) > 0
    tested = in_inc & (count >= _MIN_BASELINE) & ~host & ~_host_wide(inc, names)
    if not tested.any():
        return []
    # Per metric name, the median noise of its series: a flat series (all zeros, say) borrows
    # the noise of its peers instead of turning any change into an infinite z-score.
    floors: dict[str, list[float]] = defaultdict(list)
    for k in np.flatnonzero(tested & (mad > 0)):
        floors[names[k][2]].append(float(mad[k]))
    floor = np.array([float(np.median(floors[k[2]])) if floors[k[2]] else 0.0 for k in names])
    high = np.full(n, -np.inf)
    np.maximum.at(high, inc.key, inc.value)
    low = np.full(n, np.inf)
    np.minimum.at(low, inc.key, inc.value)
    worst = np.where(low_is_bad, low, high)
    scale = np.maximum.reduce([mad, _REL_FLOOR * np.abs(med), floor, np.full(n, 1e-12)])
    z = np.where(low_is_bad, med - worst, worst - med) / scale
    points = np.bincount(inc.key, minlength=n)
    correction = np.log10(max(int(tested.sum()), 1) * np.maximum(points, 1))
    raw = (1.03 * z - math.log(2)) / math.log(10) - correction  # Laplace upper tail, corrected
    score = np.minimum(raw, np.where(resource, RESOURCE_CAP, SYMPTOM_CAP))
    keep = tested & (score > 0) & ~(~resource & np.array([k[0] in traced for k in names]))
    return [_finding(names[k], float(score[k]), float(med[k]), float(worst[k]), float(z[k]),
                     bool(resource[k]), bool(low_is_bad[k])) for k in np.flatnonzero(keep)]


def _finding(key: Key, score: float, med: float, worst: float, z: float, resource: bool, low: bool) -> Finding:
    service, instance, name = key
    return Finding(
        service=service, signal=f"metric:{name}", kind=EvidenceKind.METRIC, score=score,
        family="metric:resource" if resource else "metric:symptom",
        baseline=round(med, 4), incident=round(worst, 4), unit=name,
        detail=f"{instance}: {name} {'fell' if low else 'rose'} to {worst:.4g} "
               f"(baseline median {med:.4g}, robust z {z:.1f})",
        refs=[f"{instance}/{name}"],
    )
