"""Latency from the span tree: exclusive (self) time of each span, and the caller gap.

Self time excludes the children, so a service slow only because its callee is slow shows no
self-time anomaly (it is a victim). The self time of a client span is the gap between the
caller's client span and the callee's server span: network, queueing before the callee's code
runs, or a starved caller. A gap is blamed on the endpoint that explains it: the one whose calls,
in and out, are slow across the board (a delayed network slows every call of its service; a
starved caller all the calls it makes). The slow calls of a service then add up across distinct
call contexts, so a service slow on every edge outranks each neighbour slow on one."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from agents.brain.rca.context import Tables
from agents.brain.rca.findings import Finding, best_per_owner, damped
from agents.brain.rca.table import SpanTable
from sre_space.models.diagnosis import EvidenceKind

FLOOR_US = 1_000  # latency jitter below a millisecond is never a finding
FLOOR_SHARE = 0.05  # nor is an excess under 5 % of a typical request's duration
WITNESS = 1.0  # a call context this surprising (p < 0.1) counts as one more witness of a slow service
_GAP = np.int64(1) << np.int64(31)


@dataclass
class Latency:
    slow: np.ndarray  # per incident span: self time (or gap) beyond the baseline's tail
    chance: np.ndarray  # per incident span: baseline share beyond that threshold (NaN: no baseline)
    threshold: np.ndarray
    context: np.ndarray
    callee: np.ndarray  # service id on the far side of a client span, -1 otherwise
    base_context: np.ndarray


def _contexts(spans: SpanTable) -> tuple[np.ndarray, np.ndarray]:
    """A span's latency context: its operation, and for a client span also the callee operation."""
    callee_op = np.full(len(spans), -1, np.int64)
    callee_svc = np.full(len(spans), -1, np.int64)
    kids = np.flatnonzero(spans.parent >= 0)
    cross = kids[spans.service[kids] != spans.service[spans.parent[kids]]]
    callee_op[spans.parent[cross]] = spans.op[cross]
    callee_svc[spans.parent[cross]] = spans.service[cross]
    ctx = np.where(callee_op >= 0, spans.op * _GAP + callee_op + 1, spans.op * _GAP)
    return ctx, callee_svc


def latency(t: Tables) -> Latency:
    inc_ctx, callee = _contexts(t.inc)
    base_ctx, _ = _contexts(t.base)
    keys, q50, q99, size = _quantiles(base_ctx, t.base.self_time)
    roots = t.base.duration[t.base.parent < 0]
    floor = max(FLOOR_US, FLOOR_SHARE * float(np.median(roots))) if len(roots) else FLOOR_US
    thr_b = np.maximum(q99, 2 * q50) + floor
    beyond = np.zeros(len(keys))
    if len(keys):
        pos = np.searchsorted(keys, base_ctx)
        np.add.at(beyond, pos, t.base.self_time > thr_b[pos])
    rate = (beyond + 0.5) / (size + 1)
    pos = np.searchsorted(keys, inc_ctx) if len(keys) else np.zeros(len(inc_ctx), np.int64)
    pos = np.minimum(pos, max(len(keys) - 1, 0))
    known = (keys[pos] == inc_ctx) if len(keys) else np.zeros(len(inc_ctx), bool)
    threshold = np.where(known, thr_b[pos] if len(keys) else 0, np.inf)
    chance = np.where(known, rate[pos] if len(keys) else 0, np.nan)
    slow = t.inc.self_time > threshold
    return Latency(slow, chance, threshold, inc_ctx, callee, base_ctx)


def _quantiles(ctx: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, ...]:
    order = np.lexsort((values, ctx))
    c, v = ctx[order], values[order]
    keys, first, size = np.unique(c, return_index=True, return_counts=True)
    q50 = v[first + (size - 1) // 2]
    q99 = v[first + np.floor((size - 1) * 0.99).astype(np.int64)]
    return keys, q50, q99, size


def latency_findings(t: Tables, lat: Latency) -> list[Finding]:
    known = ~np.isnan(lat.chance)
    chance = np.nan_to_num(lat.chance)
    is_gap = t.inc.exit & (lat.callee >= 0)
    own = np.flatnonzero(known & ~is_gap)
    out = _per_service(t, lat, own, t.inc.service[own], np.ones(len(own)), chance, "self_time")
    # Caller gap: each slow call is blamed on its two endpoints in proportion to how widespread
    # slowness is on all the calls each endpoint takes part in, as caller or callee. A service
    # whose network is delayed slows every call in and out of it; a callee of that service
    # only the calls from it.
    gaps = np.flatnonzero(known & is_gap)
    caller, callee = t.inc.service[gaps], lat.callee[gaps]
    slow = lat.slow[gaps]
    n_svc = len(t.services)
    hit = np.bincount(caller[slow], minlength=n_svc) + np.bincount(callee[slow], minlength=n_svc)
    total = np.bincount(caller, minlength=n_svc) + np.bincount(callee, minlength=n_svc)
    frac = hit / np.maximum(total, 1)
    a, b = frac[caller], frac[callee]
    to_callee = np.where(a + b > 0, b / np.maximum(a + b, 1e-9), 0.5)
    out += _per_service(t, lat, np.r_[gaps, gaps], np.r_[callee, caller], np.r_[to_callee, 1 - to_callee],
                        chance, "caller_gap", breadth=True)
    return out


def _per_service(
    t: Tables, lat: Latency, rows: np.ndarray, owner: np.ndarray, weight: np.ndarray,
    chance: np.ndarray, signal: str, breadth: bool = False,
) -> list[Finding]:
    """Per owner service, its worst latency context (damped Poisson surprise). With ``breadth``,
    the surprise of every significant context the service owns adds up: distinct calls are
    independent witnesses (one slow edge is a coincidence, all edges of a service are not)."""
    keep = weight > 0
    rows, owner, weight = rows[keep], owner[keep], weight[keep]
    if len(rows) == 0:
        return []
    ctx_values, ctx_id = np.unique(lat.context[rows], return_inverse=True)
    n_svc = len(t.services)
    group = ctx_id * n_svc + owner
    size = int(group.max()) + 1
    slow = lat.slow[rows]
    k = np.bincount(group[slow], weights=weight[slow], minlength=size)
    lam = np.bincount(group, weights=weight * chance[rows], minlength=size)
    # Damp by the number of spans, not the blamed weight, so a split blame stays a split.
    n = np.bincount(group, minlength=size).astype(float)
    score = np.zeros(size)
    for g in np.flatnonzero(k > 0):
        score[g] = damped(float(k[g]), float(lam[g]), float(n[g]))
    owners = np.arange(size) % n_svc
    witness = score >= WITNESS
    total = np.bincount(owners, weights=score * witness, minlength=n_svc)
    witnesses = np.bincount(owners, weights=witness, minlength=n_svc)
    out = []
    for s, top in best_per_owner(owners, score).items():
        in_group = rows[group == top]
        hit = in_group[lat.slow[in_group]]
        ctx = int(ctx_values[top // n_svc])
        base_vals = t.base.self_time[lat.base_context == ctx]
        out.append(Finding(
            service=t.services.names[s], signal=signal, kind=EvidenceKind.SPAN,
            score=float(max(total[s], score[top]) if breadth else score[top]),
            operation=t.operation(int(t.inc.op[hit[0]])),
            baseline=round(float(np.median(base_vals)) / 1000, 3) if len(base_vals) else None,
            incident=round(float(np.median(t.inc.self_time[in_group])) / 1000, 3), unit="ms (median)",
            describe=partial(_describe, t, lat, signal, hit, len(in_group), int(witnesses[s]) if breadth else 1),
        ))
    return out


def _describe(
    t: Tables, lat: Latency, signal: str, hit: np.ndarray, total: int, witnesses: int = 1
) -> tuple[str, list[str]]:
    detail = (f"{len(hit)} of {total} spans beyond the baseline tail ({lat.threshold[hit[0]] / 1000:.1f} ms)"
              + _callee_note(t, lat, int(hit[0]), signal)
              + (f"; {witnesses} distinct calls of this service slow" if witnesses > 1 else ""))
    return detail, t.example_spans(hit)


def _callee_note(t: Tables, lat: Latency, row: int, signal: str) -> str:
    if signal != "caller_gap":
        return ""
    caller, callee = t.inc.spans[row].service, t.services.names[int(lat.callee[row])]
    return f"; calls {caller} -> {callee}"
