"""Where errors originate: a span errs when its status says so or it logged at ERROR level.
The origin is the deepest erring span of a branch; an erring span with an erring descendant, or
whose subtree holds another anomaly in another service, only propagates it (the caller of a
failed call fails too). So does a span whose error line names another service of the window
("No instances available for ts-basic-service", "user-service unreachable", or a failed span's
warning "quote-service: circuit breaker open"): it relays that service's failure, or a
discovery or network fault on the way to it, not one of its own.

One exception: a failed client call that never reached its callee (no server span below it,
where the baseline always shows one, and only one, callee service) points at that callee: it is
down, unreachable or refusing connections (``missing_callee``, dependency unavailable)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import partial

import numpy as np

from agents.brain.rca.context import Tables
from agents.brain.rca.findings import Finding, best_per_owner, damped
from agents.brain.rca.logs import ERROR, WARN, LogTable
from agents.brain.rca.table import SpanTable
from sre_space.models.diagnosis import EvidenceKind

MESSAGE_CHARS = 500  # a service named further into a line is in a stack trace, not the cause


def error_flags(spans: SpanTable, logs: LogTable, services: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(own, relayed)``: spans that err (status, or a line at ERROR level) on their own, and
    erring spans whose error or warning line names another service (they relay its failure)."""
    relayed = relayed_errors(spans, logs, services)
    own: np.ndarray = (spans.error | logs.span_errors(len(spans))) & ~relayed
    return own, relayed


def relayed_errors(spans: SpanTable, logs: LogTable, services: Sequence[str]) -> np.ndarray:
    """Spans with an ERROR line that names a service other than the line's own, and spans marked
    as errors with such a WARNING line: a caller that fails fast on an open circuit breaker
    ("quote-service: circuit breaker open") never calls, so no failed call below it shows whose
    failure it relays; its line does."""
    flag = np.zeros(len(spans), bool)
    joined = logs.span >= 0
    span_error = np.zeros(len(logs), bool)
    span_error[joined] = spans.error[logs.span[joined]]
    rows = np.flatnonzero(joined & ((logs.level >= ERROR) | ((logs.level >= WARN) & span_error)))
    names = sorted((n for n in services if n), key=len, reverse=True)
    if len(rows) == 0 or not names:
        return flag
    named = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, names)) + r")(?![\w-])")
    for row in rows:
        line = logs.lines[int(row)]
        if any(m.group(1) != line.service for m in named.finditer(line.message, 0, MESSAGE_CHARS)):
            flag[int(logs.span[row])] = True
    return flag


def error_findings(t: Tables, inc_err: np.ndarray, explained: np.ndarray) -> list[Finding]:
    """Per service, its operation with the most surprising error origins against the
    baseline's origin rate for that operation (the service's rate for a new operation)."""
    base_err = error_flags(t.base, t.base_logs, t.services.names)[0]
    base_origin = base_err & ~t.base.descendants_flag(base_err, other_service=False)
    deepest = inc_err & ~t.inc.descendants_flag(inc_err, other_service=False) & ~explained
    callee = sole_callee(t.base, len(t.ops))
    stranded = deepest & ~t.inc.calls_out & (callee[t.inc.op] >= 0)
    out = _missing_callee(t, stranded, callee, base_origin & ~t.base.calls_out)
    origin = deepest & ~stranded
    n_ops, n_svc = len(t.ops), len(t.services)
    k = np.bincount(t.inc.op[origin], minlength=n_ops).astype(float)
    n = np.bincount(t.inc.op, minlength=n_ops).astype(float)
    kb = np.bincount(t.base.op[base_origin], minlength=n_ops).astype(float)
    nb = np.bincount(t.base.op, minlength=n_ops).astype(float)
    svc_rate = (np.bincount(t.base.service[base_origin], minlength=n_svc) + 0.5) / (
        np.bincount(t.base.service, minlength=n_svc) + 1)
    op_service = t.op_service_ids
    rate = np.where(nb > 0, (kb + 0.5) / (nb + 1), svc_rate[op_service])
    score = np.zeros(n_ops)
    for o in np.flatnonzero(k > 0):
        score[o] = damped(float(k[o]), float(n[o] * rate[o]), float(n[o]))
    for s, top in best_per_owner(op_service, score).items():
        out.append(Finding(
            service=t.services.names[s], signal="error_origin", kind=EvidenceKind.SPAN, score=float(score[top]),
            operation=t.operation(top), baseline=round(float(kb[top] / max(nb[top], 1)), 4),
            incident=round(float(k[top] / n[top]), 4), unit="share of spans where an error originates",
            describe=partial(_describe, t, origin, top),
        ))
    return out


def sole_callee(spans: SpanTable, n_ops: int) -> np.ndarray:
    """Per operation, the one service its spans call in this window (-1: none, or several)."""
    kids = np.flatnonzero(spans.parent >= 0)
    cross = kids[spans.service[kids] != spans.service[spans.parent[kids]]]
    pairs = np.unique(np.stack([spans.op[spans.parent[cross]], spans.service[cross]]), axis=1)
    ops, services = pairs[0], pairs[1]
    distinct = np.bincount(ops, minlength=n_ops)
    out = np.full(n_ops, -1, np.int64)
    single = distinct[ops] == 1
    out[ops[single]] = services[single]
    return out


def _missing_callee(t: Tables, stranded: np.ndarray, callee: np.ndarray, base_stranded: np.ndarray) -> list[Finding]:
    n_ops = len(t.ops)
    k = np.bincount(t.inc.op[stranded], minlength=n_ops).astype(float)
    n = np.bincount(t.inc.op, minlength=n_ops).astype(float)
    kb = np.bincount(t.base.op[base_stranded], minlength=n_ops).astype(float)
    nb = np.bincount(t.base.op, minlength=n_ops).astype(float)
    score = np.zeros(n_ops)
    for o in np.flatnonzero(k > 0):
        score[o] = damped(float(k[o]), float(n[o] * (kb[o] + 0.5) / (nb[o] + 1)), float(n[o]))
    out = []
    for s, top in best_per_owner(np.maximum(callee, 0), score * (callee >= 0)).items():
        out.append(Finding(
            service=t.services.names[s], signal="missing_callee", kind=EvidenceKind.SPAN, score=float(score[top]),
            operation=None, baseline=round(float(kb[top] / max(nb[top], 1)), 4),
            incident=round(float(k[top] / n[top]), 4),
            unit=f"share of {t.op_service(top)} {t.operation(top)} calls failing before reaching it",
            describe=partial(_describe, t, stranded, top),
        ))
    return out


def _describe(t: Tables, origin: np.ndarray, op: int) -> tuple[str, list[str]]:
    rows = np.flatnonzero(origin & (t.inc.op == op))
    return _first_error_log(t, rows), t.example_spans(rows)


def _first_error_log(t: Tables, rows: np.ndarray) -> str:
    logs = t.inc_logs
    chosen = np.zeros(len(t.inc), bool)
    chosen[rows] = True
    hit = np.flatnonzero(chosen[np.maximum(logs.span, 0)] & (logs.span >= 0) & (logs.level >= 2))
    if len(hit) == 0:
        return "spans marked as errors"
    return f"error log: {logs.lines[int(hit[0])].message[:200]}"
