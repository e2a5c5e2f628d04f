"""Where errors originate: a span errs when its status says so or it logged at ERROR level.
The origin is the deepest erring span of a branch; an erring span whose subtree holds an anomaly
in another service only propagates that anomaly (the caller of a failed call fails too)."""

from __future__ import annotations

import numpy as np

from agents.brain.rca.context import Tables
from agents.brain.rca.findings import Finding, surprise
from agents.brain.rca.logs import LogTable
from agents.brain.rca.table import SpanTable
from sre_space.models.diagnosis import EvidenceKind


def error_flags(spans: SpanTable, logs: LogTable) -> np.ndarray:
    return spans.error | logs.span_errors(len(spans))


def error_findings(t: Tables, inc_err: np.ndarray, explained: np.ndarray) -> list[Finding]:
    """Per service: error origins in the incident against the baseline's origin rate."""
    base_err = error_flags(t.base, t.base_logs)
    base_origin = base_err & ~t.base.descendants_flag(base_err)
    origin = inc_err & ~explained
    n_svc = len(t.services)
    k = np.bincount(t.inc.service[origin], minlength=n_svc).astype(float)
    n = np.bincount(t.inc.service, minlength=n_svc).astype(float)
    kb = np.bincount(t.base.service[base_origin], minlength=n_svc).astype(float)
    nb = np.bincount(t.base.service, minlength=n_svc).astype(float)
    rate_b = (kb + 0.5) / (nb + 1)
    out = []
    for s in np.flatnonzero(k > 0):
        score = surprise(float(k[s]), float(n[s] * rate_b[s]))
        if score <= 0:
            continue
        rows = np.flatnonzero(origin & (t.inc.service == s))
        ops, counts = np.unique(t.inc.op[rows], return_counts=True)
        top = int(ops[np.argmax(counts)])
        out.append(Finding(
            service=t.services.names[s], signal="error_origin", kind=EvidenceKind.SPAN, score=score,
            operation=t.operation(top), baseline=round(float(kb[s] / max(nb[s], 1)), 4),
            incident=round(float(k[s] / n[s]), 4), unit="share of spans where an error originates",
            detail=_first_error_log(t, rows), refs=t.example_traces(rows),
        ))
    return out


def _first_error_log(t: Tables, rows: np.ndarray) -> str:
    logs = t.inc_logs
    hit = np.flatnonzero(np.isin(logs.span, rows) & (logs.level >= 2))
    if len(hit) == 0:
        return "spans marked as errors"
    return f"error log: {logs.lines[int(hit[0])].message[:200]}"
