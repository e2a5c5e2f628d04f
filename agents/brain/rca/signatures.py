"""Behaviour novelty: what a span does (the set of operations it calls and log templates it
writes) compared with what spans of the same operation did in the baseline.

A code defect changes that set (an early return skips calls and log lines, an exception adds an
error log or an error handler), while load and data drift mostly change how often known
variants occur. So each event set (per operation) is tested for over-representation against its
baseline share; a set never seen in the baseline gets the Good-Turing estimate of how often an
unseen set turns up by chance (singletons / total, smoothed): rich, variable operations expect
novelty, rigid ones do not. An error line the service never wrote in the baseline is rarer still:
its chance is estimated over all of the service's spans."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from agents.brain.rca.context import Tables
from agents.brain.rca.findings import N_EFF, Finding, best_per_owner, surprises
from agents.brain.rca.logs import LogTable, error_templates
from agents.brain.rca.table import SpanTable
from sre_space.models.diagnosis import EvidenceKind

SPAN_SURPRISE = 3.0  # a behaviour this over-represented (p < 0.001) marks its spans as anomalous
_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64: a well-spread 64-bit hash per event id (sums of these hash sets)."""
    with np.errstate(over="ignore"):
        z = (x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)) & _MASK
        z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK
        z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK
        return z ^ (z >> np.uint64(31))


def events(spans: SpanTable, logs: LogTable) -> tuple[np.ndarray, np.ndarray]:
    """Unique (span row, event id) pairs: child operations (2·op) and log templates (2·t+1)."""
    kids = np.flatnonzero(spans.parent >= 0)
    joined = logs.span >= 0
    rows = np.concatenate([spans.parent[kids], logs.span[joined]])
    ev = np.concatenate([spans.op[kids] * 2, logs.template[joined] * 2 + 1])
    key = np.unique(rows * (1 << 32) + ev)
    return key >> 32, key & ((1 << 32) - 1)


def signatures(n: int, rows: np.ndarray, ev: np.ndarray) -> np.ndarray:
    sig = np.zeros(n, np.uint64)
    np.add.at(sig, rows, _mix(ev))
    return sig


@dataclass
class Behaviour:
    """Per incident span: is its event set over-represented against the baseline (``anomalous``),
    and how many spans of that set the baseline predicts, per span (``expected``; NaN when the
    operation is absent from the baseline)."""

    anomalous: np.ndarray
    signature: np.ndarray  # dense id of the span's (operation, event set)
    share: np.ndarray  # baseline share of that event set among the operation's spans
    expected: np.ndarray
    inc_events: tuple[np.ndarray, np.ndarray]
    base_events: tuple[np.ndarray, np.ndarray]


def behaviour(t: Tables) -> Behaviour:
    inc_ev, base_ev = events(t.inc, t.inc_logs), events(t.base, t.base_logs)
    inc_sig = signatures(len(t.inc), *inc_ev) ^ _mix(t.inc.op + (1 << 40))
    base_sig = signatures(len(t.base), *base_ev) ^ _mix(t.base.op + (1 << 40))
    n_ops = len(t.ops)
    b_keys, b_counts = np.unique(base_sig, return_counts=True)
    n_base = np.bincount(t.base.op, minlength=n_ops).astype(float)
    once = b_counts[np.searchsorted(b_keys, base_sig)] == 1
    singles = np.bincount(t.base.op[once], minlength=n_ops).astype(float)
    # Good-Turing: the chance that a span shows a set never seen for its operation.
    unseen = np.where(n_base > 0, (singles + 1) / (n_base + 2), np.nan)
    i_keys, first, inverse, i_counts = np.unique(inc_sig, return_index=True, return_inverse=True,
                                                 return_counts=True)
    op = t.inc.op[first]
    n_inc = np.bincount(t.inc.op, minlength=n_ops).astype(float)[op]
    pos = np.minimum(np.searchsorted(b_keys, i_keys), max(len(b_keys) - 1, 0))
    seen = b_counts[pos] * (b_keys[pos] == i_keys) if len(b_keys) else np.zeros(len(i_keys))
    share = np.where(seen > 0, (seen + 0.5) / (n_base[op] + 1), unseen[op])
    # A set with an error line its service never wrote in the baseline is rarer than any new set
    # of the operation: how often a service starts writing a new error is estimated over all its
    # spans (Good-Turing again, on its error lines), since that is a property of its code, not
    # of one operation's data.
    is_error = error_templates(t.templates)
    fresh = new_error_spans(t, inc_ev, is_error)[first]
    share = np.where(fresh, np.minimum(share, new_error_chance(t, base_ev, is_error)[t.op_service_ids[op]]), share)
    lam = n_inc * share
    scale = np.minimum(1.0, N_EFF / n_inc)
    flagged = surprises(i_counts * scale, lam * scale) >= SPAN_SURPRISE
    per_span = lam / i_counts
    return Behaviour(flagged[inverse], inverse, share[inverse], per_span[inverse], inc_ev, base_ev)


def new_error_spans(t: Tables, inc_ev: tuple[np.ndarray, np.ndarray], is_error: np.ndarray) -> np.ndarray:
    """Incident spans with an ERROR line (``is_error`` per template) whose template the baseline
    never shows."""
    rows, ev = inc_ev
    known = np.zeros(len(t.templates), bool)
    known[t.base_logs.template] = True
    logged = ev % 2 == 1
    tmpl = ev[logged] // 2
    hit = is_error[tmpl] & ~known[tmpl]
    out = np.zeros(len(t.inc), bool)
    out[rows[logged][hit]] = True
    return out


def new_error_chance(t: Tables, base_ev: tuple[np.ndarray, np.ndarray], is_error: np.ndarray) -> np.ndarray:
    """Per service: the chance that a span shows an error line not seen before, (error templates
    seen in one baseline span + 1) / (baseline spans + 2)."""
    ev = base_ev[1]
    n_svc = len(t.services)
    tmpl = ev[ev % 2 == 1] // 2
    spans_per = np.bincount(tmpl, minlength=len(t.templates))
    once = np.flatnonzero((spans_per == 1) & is_error)
    owner = np.zeros(len(t.templates), np.int64)
    owner[t.base_logs.template] = t.base_logs.service
    singles = np.bincount(owner[once], minlength=n_svc).astype(float)
    spans = np.bincount(t.base.service, minlength=n_svc).astype(float)
    chance: np.ndarray = (singles + 1) / (spans + 2)
    return chance


def struct_findings(t: Tables, beh: Behaviour, explained: np.ndarray) -> list[Finding]:
    """Per service, its most affected operation. Per operation, over the spans not explained by
    an anomaly further down their own subtree, each over-represented event set adds its
    (damped) Poisson surprise; the span-level flag only serves to explain callers."""
    rows = np.flatnonzero(~np.isnan(beh.expected) & ~explained)
    n_ops = len(t.ops)
    op = t.inc.op[rows]
    n = np.bincount(op, minlength=n_ops).astype(float)
    sig_ids, first, i = np.unique(beh.signature[rows], return_index=True, return_counts=True)
    sig_op = op[first]
    lam = n[sig_op] * beh.share[rows][first]
    scale = np.minimum(1.0, N_EFF / n[sig_op])
    per_sig = surprises(i * scale, lam * scale)
    per_op = np.bincount(sig_op, weights=per_sig, minlength=n_ops)
    excess = np.isin(beh.signature, sig_ids[per_sig > 0])
    origin = np.zeros(len(t.inc), bool)
    origin[rows] = excess[rows]
    k = np.bincount(t.inc.op[origin], minlength=n_ops).astype(float)
    lam_op = np.bincount(t.inc.op[origin], weights=beh.expected[origin], minlength=n_ops)
    out = []
    for s, top in best_per_owner(t.op_service_ids, per_op).items():
        out.append(Finding(
            service=t.services.names[s], signal="call_mix", kind=EvidenceKind.SPAN, score=float(per_op[top]),
            operation=t.operation(top), baseline=round(float(lam_op[top] / n[top]), 4),
            incident=round(float(k[top] / n[top]), 4), unit="share of spans with unusual behaviour",
            describe=partial(_describe, t, beh, top, origin),
        ))
    return out


def _describe(t: Tables, beh: Behaviour, op: int, origin: np.ndarray) -> tuple[str, list[str]]:
    rows = np.flatnonzero(origin & (t.inc.op == op))
    return _event_diff(t, beh, op, rows), t.example_spans(rows)


def _event_diff(t: Tables, nov: Behaviour, op: int, rows: np.ndarray, limit: int = 3) -> str:
    """The events whose presence changed most between baseline spans and the novel spans."""
    b_rows, b_ev = nov.base_events
    i_rows, i_ev = nov.inc_events
    chosen = np.zeros(len(t.inc), bool)
    chosen[rows] = True
    b_rate = _presence(b_ev[t.base.op[b_rows] == op], int((t.base.op == op).sum()))
    i_rate = _presence(i_ev[chosen[i_rows]], len(rows))
    diffs = sorted(
        ((i_rate.get(e, 0.0) - b_rate.get(e, 0.0), e) for e in set(b_rate) | set(i_rate)),
        key=lambda d: -abs(d[0]),
    )
    parts = []
    for delta, e in diffs[:limit]:
        if abs(delta) < 0.2:
            break
        word = "new" if delta > 0 else "missing"
        parts.append(f"{word}: {t.event_name(int(e))} ({b_rate.get(e, 0):.0%} -> {i_rate.get(e, 0):.0%})")
    return "; ".join(parts)


def _presence(ev: np.ndarray, n: int) -> dict[int, float]:
    if n == 0:
        return {}
    values, counts = np.unique(ev, return_counts=True)
    return {int(v): c / n for v, c in zip(values, counts, strict=True)}
