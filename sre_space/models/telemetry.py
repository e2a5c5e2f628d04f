"""Telemetry as the control plane reads it: spans (from any Jaeger-compatible query API or a
dataset adapter), log lines and metric samples. Backend-neutral and immutable."""

from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict, Field


class SpanKind(enum.StrEnum):
    SERVER = "server"
    CLIENT = "client"
    PRODUCER = "producer"
    CONSUMER = "consumer"
    INTERNAL = "internal"
    UNSPECIFIED = ""


class Span(BaseModel):
    """One span. Times are microseconds since the epoch (Jaeger's unit)."""

    model_config = ConfigDict(frozen=True)

    trace_id: str
    span_id: str
    parent_id: str | None = None
    service: str
    operation: str
    start_us: int
    duration_us: int = Field(ge=0)
    kind: SpanKind = SpanKind.UNSPECIFIED
    error: bool = False
    status_message: str = ""
    attributes: dict[str, str | int | float | bool] = Field(default_factory=dict)
    instance: str | None = Field(default=None, description="pod, container or process that emitted it")

    @property
    def end_us(self) -> int:
        return self.start_us + self.duration_us


class LogLine(BaseModel):
    """One application log line, joined to its span when it carries trace context."""

    model_config = ConfigDict(frozen=True)

    time_us: int
    service: str
    message: str
    level: str = ""
    trace_id: str | None = None
    span_id: str | None = None
    instance: str | None = None


class MetricSample(BaseModel):
    """One sample of one metric series of one service."""

    model_config = ConfigDict(frozen=True)

    time_us: int
    service: str
    name: str
    value: float
    instance: str | None = None
