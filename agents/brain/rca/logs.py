"""Log lines as columns: a template per line (variable parts masked), its level, and the span it
belongs to, so logs become events inside spans (see ``signatures``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import repeat
from typing import TYPE_CHECKING

import numpy as np

from agents.brain.rca.findings import Finding, best_per_owner, damped
from agents.brain.rca.table import SpanTable, Vocab, columns, intern
from sre_space.models.diagnosis import EvidenceKind
from sre_space.models.telemetry import LogLine

if TYPE_CHECKING:
    from agents.brain.rca.context import Tables

# Variable parts of a line: a run of hex digits and separators holding at least one digit, not
# glued to a word (timestamps, ids, uuids, ips, numbers, with an optional unit), or an id-like
# word of 6+ letters and digits mixed ("0PUK6V6EV0"). "Impl#372" keeps its source line ("#"
# prefix) and "v1" its digit: those are constant parts of a template.
_VARIABLE = re.compile(
    r"(?<![A-Za-z0-9#])(?:"
    r"[0-9A-Fa-f:._/\-]*\d[0-9A-Fa-f:._/\-]*(?:ms|us|ns|s|[kKMG]i?B|B|%)?"
    r"|(?=[A-Za-z0-9]*\d)(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{6,}"
    r")(?![A-Za-z0-9])"
)
_TEMPLATE_TOKENS = 8
_LEVELS = {"WARN": 1, "WARNING": 1, "ERROR": 2, "SEVERE": 2, "FATAL": 2, "CRITICAL": 2, "PANIC": 2}

WARN, ERROR = 1, 2


_TOKEN_CACHE: dict[str, str] = {}
_TOKEN_CACHE_MAX = 200_000  # constant tokens repeat on every line; ids miss and are not kept


_HEXISH = "0123456789abcdefABCDEF:._/-"
_PUNCT = ":._/-"


def _mask(token: str) -> str:
    masked = _VARIABLE.sub("*", token)
    if masked == token and len(_TOKEN_CACHE) < _TOKEN_CACHE_MAX:
        _TOKEN_CACHE[token] = masked
    return masked


def template(message: str, _cache: dict[str, str] = _TOKEN_CACHE) -> str:
    """The constant part of a log line: variable runs masked, first tokens kept."""
    tokens = message[:240].split(None, _TEMPLATE_TOKENS)[:_TEMPLATE_TOKENS]
    # Known constant tokens come from the cache; the commonest variable token, all hex digits and
    # separators (ids, times), is masked without the regex (an all-letter hex word such as
    # "cafe-bad" is masked too, consistently, which is harmless); the rest go through the regex.
    return " ".join([
        _cache.get(t) or ("*" if not t.strip(_HEXISH) and t.strip(_PUNCT) and not t.isalpha() else _mask(t))
        for t in tokens
    ])


@dataclass
class LogTable:
    """One window's log lines: service id, template id, level (0 info, 1 warn, 2 error) and
    the index of the span in the window's ``SpanTable`` (-1 when not joined)."""

    lines: list[LogLine]
    service: np.ndarray
    template: np.ndarray
    level: np.ndarray
    span: np.ndarray

    def __len__(self) -> int:
        return len(self.lines)

    @classmethod
    def build(cls, lines: list[LogLine], spans: SpanTable, services: Vocab, templates: Vocab) -> LogTable:
        n = len(lines)
        names, levels, messages, trace_ids, span_ids = columns(
            lines, ("service", "level", "message", "trace_id", "span_id"))
        svc = intern(names, services)
        upper = [lv.upper() for lv in levels]
        # Level is part of the template: the same text at ERROR is a different event.
        keys = list(map("\x00".join, zip(names, upper, map(template, messages), strict=True)))
        tmpl = intern(keys, templates)
        level = np.fromiter(map(_LEVELS.get, upper, repeat(0)), np.int64, n)
        if spans.keyed_by_trace:
            span = np.fromiter(map(spans.row, trace_ids, span_ids), np.int64, n)
        else:
            span = np.fromiter(map(spans.index.get, span_ids, repeat(-1)), np.int64, n)
        # A span id match must be in the same trace (ids are random, but be strict).
        tget = spans.traces.get
        trace = np.fromiter((tget(t, -2) if t else -2 for t in trace_ids), np.int64, n)
        joined = np.flatnonzero(span >= 0)
        mismatch = (trace[joined] != -2) & (trace[joined] != spans.trace[span[joined]])
        span[joined[mismatch]] = -1
        return cls(lines, svc, tmpl, level, span)

    def span_errors(self, n_spans: int) -> np.ndarray:
        """Spans that logged at ERROR level themselves."""
        flag = np.zeros(n_spans, bool)
        flag[self.span[(self.level >= ERROR) & (self.span >= 0)]] = True
        return flag


def error_templates(templates: Vocab) -> np.ndarray:
    """Per template id: is it a line at ERROR level (or worse)?"""
    levels = [_LEVELS.get(name.split("\x00", 2)[1], 0) for name in templates.names]
    return np.array(levels, np.int64) >= ERROR


def log_findings(t: Tables, inc_seconds: float, base_seconds: float) -> list[Finding]:
    """Log lines joined to no span (no trace context, or their span is missing): per service, the
    template whose rate rose most against the baseline's rate (time-scaled). Lines inside
    spans are already events of their span's behaviour (``signatures``)."""
    inc, base = t.inc_logs, t.base_logs
    loose_i, loose_b = inc.span < 0, base.span < 0
    if not loose_i.any():
        return []
    n_t = len(t.templates)
    k = np.bincount(inc.template[loose_i], minlength=n_t).astype(float)
    kb = np.bincount(base.template[loose_b], minlength=n_t).astype(float)
    owner = np.zeros(n_t, np.int64)
    owner[inc.template] = inc.service
    total = np.bincount(inc.service[loose_i], minlength=len(t.services)).astype(float)
    ratio = inc_seconds / max(base_seconds, 1.0)
    score = np.zeros(n_t)
    for tm in np.flatnonzero(k > 0):
        score[tm] = damped(float(k[tm]), (float(kb[tm]) + 0.5) * ratio, float(total[owner[tm]]))
    out = []
    for s, top in best_per_owner(owner, score).items():
        example = int(np.flatnonzero(loose_i & (inc.template == top))[0])
        out.append(Finding(
            service=t.services.names[s], signal="log_pattern", kind=EvidenceKind.LOG, score=float(score[top]),
            baseline=round(float(kb[top]) * ratio, 2), incident=float(k[top]), unit="lines (time-scaled)",
            detail=f"{inc.lines[example].level or 'line'}: {template(inc.lines[example].message)}",
            refs=[inc.lines[example].message[:200]],
        ))
    return out
