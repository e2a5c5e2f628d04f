"""What Brain concludes about an incident: ranked root-cause candidates, a fault class, the evidence
behind each candidate (with baseline and incident values), a confidence, and who decided."""

from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict, Field


class FaultClass(enum.StrEnum):
    CRASH_OOM = "crash_oom"
    LATENCY = "latency"
    ERRORS = "errors"
    SATURATION = "saturation"
    BAD_CHANGE = "bad_change"
    DEPENDENCY_UNAVAILABLE = "dependency_unavailable"
    BUSINESS_LOGIC = "business_logic"


class EvidenceKind(enum.StrEnum):
    SPAN = "span"
    METRIC = "metric"
    LOG = "log"
    EVENT = "event"
    CHANGE = "change"


class DecidedBy(enum.StrEnum):
    ENGINE = "engine"
    LLM = "llm"


class Evidence(BaseModel):
    """One observation that supports a candidate, and how it differs from the baseline.

    ``signal`` names the mechanism (``self_time``, ``caller_gap``, ``error_origin``, ``call_mix``,
    ``missing_callee``, ``log_pattern``, ``metric:<name>``, ``runtime:<kind>``, ``change``);
    ``refs`` point at the concrete items: ``trace_id/span_id`` of example spans, log lines,
    ``instance/metric`` series, ``instance@time`` events, change refs."""

    model_config = ConfigDict(frozen=True)

    kind: EvidenceKind
    signal: str
    service: str
    operation: str | None = None
    baseline: float | None = None
    incident: float | None = None
    unit: str = ""
    score: float = 0.0
    detail: str = ""
    refs: list[str] = Field(default_factory=list)


class Candidate(BaseModel):
    """A service (and operation where known) that may be the root cause."""

    model_config = ConfigDict(frozen=True)

    service: str
    operation: str | None = None
    score: float
    fault_class: FaultClass
    evidence: list[Evidence] = Field(default_factory=list)


class Diagnosis(BaseModel):
    """The answer for one incident. ``candidates`` are best first; ``inconclusive`` is set when
    nothing stands out from the baseline (then ``fault_class`` is the best guess, or None)."""

    model_config = ConfigDict(frozen=True)

    schema_version: int = 1
    candidates: list[Candidate] = Field(default_factory=list)
    fault_class: FaultClass | None = None
    confidence: float = Field(0.0, ge=0.0, le=1.0)
    inconclusive: bool = False
    decided_by: DecidedBy = DecidedBy.ENGINE
    summary: str = ""
    spans_analysed: int = 0
    action: str | None = Field(default=None, description="the LLM's chosen action when it decided")
    what_would_change_my_mind: str = ""
    notes: list[str] = Field(default_factory=list, description="what limited the diagnosis (fallbacks)")

    @property
    def top(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None
