"""Log lines as columns: a template per line (variable parts masked), its level, and the span it
belongs to, so logs become events inside spans (see ``signatures``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import repeat
from operator import attrgetter

import numpy as np

from agents.brain.rca.table import SpanTable, Vocab, intern
from sre_space.models.telemetry import LogLine

# A run of hex digits and separators holding at least one digit, not glued to a word on either
# side: timestamps, ids, uuids, ips, numbers. "Impl#372" keeps its source line ("#" prefix) and
# "v1" keeps its digit (glued to a letter), because those are constant parts of a template.
_VARIABLE = re.compile(
    r"(?<![A-Za-z0-9#])[0-9A-Fa-f:._/\-]*\d[0-9A-Fa-f:._/\-]*(?:ms|us|ns|s|[kKMG]i?B|B|%)?(?![A-Za-z0-9])"
)
_TEMPLATE_TOKENS = 8
_LEVELS = {"WARN": 1, "WARNING": 1, "ERROR": 2, "SEVERE": 2, "FATAL": 2, "CRITICAL": 2, "PANIC": 2}

WARN, ERROR = 1, 2
_FIELDS = attrgetter("service", "level", "message", "trace_id", "span_id")


_TOKEN_CACHE: dict[str, str] = {}
_TOKEN_CACHE_MAX = 200_000  # constant tokens repeat on every line; ids miss and are not kept


def _mask(token: str) -> str:
    masked = _TOKEN_CACHE.get(token)
    if masked is None:
        masked = _VARIABLE.sub("*", token)
        if masked == token and len(_TOKEN_CACHE) < _TOKEN_CACHE_MAX:
            _TOKEN_CACHE[token] = masked
    return masked


def template(message: str) -> str:
    """The constant part of a log line: variable runs masked, first tokens kept."""
    return " ".join(map(_mask, message[:240].split(None, _TEMPLATE_TOKENS)[:_TEMPLATE_TOKENS]))


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
        cols = list(zip(*map(_FIELDS, lines), strict=True)) if lines else [()] * 5
        names, levels, messages, trace_ids, span_ids = cols
        svc = intern(names, services)
        levels = [lv.upper() for lv in levels]
        # Level is part of the template: the same text at ERROR is a different event.
        keys = list(map("\x00".join, zip(names, levels, map(template, messages), strict=True)))
        tmpl = intern(keys, templates)
        level = np.fromiter(map(_LEVELS.get, levels, repeat(0)), np.int64, n)
        row = spans.row
        span = np.fromiter(map(row, trace_ids, span_ids), np.int64, n)
        # A span id match must be in the same trace (ids are random, but be strict).
        tget = spans.traces.get
        trace = np.fromiter((tget(t, -2) if t else -2 for t in trace_ids), np.int64, n)
        joined = span >= 0
        mismatch = joined & (trace != -2) & (trace != spans.trace[np.maximum(span, 0)])
        span[mismatch] = -1
        return cls(lines, svc, tmpl, level, span)

    def span_errors(self, n_spans: int) -> np.ndarray:
        """Spans that logged at ERROR level themselves."""
        flag = np.zeros(n_spans, bool)
        flag[self.span[(self.level >= ERROR) & (self.span >= 0)]] = True
        return flag
