"""What each detector reports, and the one statistic they share.

Every detector turns its comparison into a count of anomalous items ``k`` against the count
``expected`` from the baseline, and the surprise of that excess is the Poisson deviance bound
``-log10 P(X >= k)`` (Chernoff: ``(k ln(k/λ) - (k - λ)) / ln 10``). Comparable units let a log
pattern, a slow span and a metric jump add up on one scale without per-dataset weights."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from sre_space.models.diagnosis import EvidenceKind

LN10 = math.log(10.0)
N_EFF = 20.0


def surprise(k: float, expected: float) -> float:
    """-log10 of the Chernoff bound on P(Poisson(expected) >= k); 0 when k <= expected."""
    lam = max(expected, 1e-3)
    if k <= lam:
        return 0.0
    return (k * math.log(k / lam) - (k - lam)) / LN10


def damped(k: float, expected: float, n: float) -> float:
    """``surprise`` with the sample size capped at ``N_EFF``: spans of one operation come in
    correlated bursts (same users, same data, same code path), so beyond a few dozen they add
    little independent evidence. This keeps a large effect on a quiet operation ahead of a
    small drift on a busy one."""
    scale = min(1.0, N_EFF / n) if n > 0 else 1.0
    return surprise(k * scale, expected * scale)


def surprises(k: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Vectorised ``surprise``."""
    lam = np.maximum(expected, 1e-3)
    kk = np.maximum(k, 1e-12)
    out = (kk * np.log(kk / lam) - (kk - lam)) / LN10
    return np.where(k > lam, out, 0.0)


@dataclass
class Finding:
    """One detector's case against one service (and its most affected operation)."""

    service: str
    signal: str
    kind: EvidenceKind
    score: float
    operation: str | None = None
    baseline: float | None = None
    incident: float | None = None
    unit: str = ""
    detail: str = ""
    refs: list[str] = field(default_factory=list)
    family: str = ""  # findings of one family count once per service (default: the signal)
    # Filled in only for the findings shown (top candidates): detail text and references.
    describe: Callable[[], tuple[str, list[str]]] | None = None

    def resolve(self) -> Finding:
        if self.describe is not None:
            self.detail, self.refs = self.describe()
            self.describe = None
        return self

    @property
    def group(self) -> str:
        return self.family or self.signal


def best_per_service(findings: list[Finding]) -> dict[tuple[str, str], Finding]:
    """The strongest finding per (service, family)."""
    out: dict[tuple[str, str], Finding] = {}
    for f in findings:
        key = (f.service, f.group)
        if key not in out or f.score > out[key].score:
            out[key] = f
    return out


def best_per_owner(owner: np.ndarray, score: np.ndarray) -> dict[int, int]:
    """For each owner (service id), the index with the highest positive score."""
    idx = np.flatnonzero(score > 0)
    order = idx[np.lexsort((-score[idx], owner[idx]))]
    first = np.r_[True, owner[order][1:] != owner[order][:-1]] if len(order) else np.zeros(0, bool)
    return {int(owner[i]): int(i) for i in order[first]}
