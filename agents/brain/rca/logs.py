"""Log lines as columns: a template per line (variable parts masked), its level, and the span it
belongs to, so logs become events inside spans (see ``signatures``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from agents.brain.rca.table import SpanTable, Vocab
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


def template(message: str) -> str:
    """The constant part of a log line: variable runs masked, first tokens kept."""
    head = " ".join(message[:240].split(None, _TEMPLATE_TOKENS)[:_TEMPLATE_TOKENS])
    return _VARIABLE.sub("*", head)


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
        svc = np.fromiter((services.id(ln.service) for ln in lines), np.int64, n)
        # Level is part of the template: the same text at ERROR is a different event.
        tmpl = np.fromiter(
            (templates.id(f"{ln.service}\x00{ln.level}\x00{template(ln.message)}") for ln in lines), np.int64, n
        )
        level = np.fromiter((_LEVELS.get(ln.level.upper(), 0) for ln in lines), np.int64, n)
        index = spans.index
        span = np.fromiter((index.get(ln.span_id, -1) if ln.span_id else -1 for ln in lines), np.int64, n)
        # A span id match must be in the same trace (ids are random, but be strict).
        joined = span >= 0
        if joined.any():
            tid = [lines[i].trace_id for i in np.flatnonzero(joined)]
            same = np.fromiter(
                (t is None or spans.spans[s].trace_id == t for t, s in zip(tid, span[joined], strict=True)), bool
            )
            span[np.flatnonzero(joined)[~same]] = -1
        return cls(lines, svc, tmpl, level, span)

    def span_errors(self, n_spans: int) -> np.ndarray:
        """Spans that logged at ERROR level themselves."""
        flag = np.zeros(n_spans, bool)
        flag[self.span[(self.level >= ERROR) & (self.span >= 0)]] = True
        return flag
