"""A window of telemetry as Brain reads it: the spans, log lines, metric samples, runtime events
and recent changes of one time range. The RCA engine compares an incident window with a baseline
window; where the data comes from (a trace store, a runtime, a dataset adapter) does not matter."""

from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict, Field

from sre_space.adapters.runtime.base import RuntimeEvent
from sre_space.models.telemetry import LogLine, MetricSample, Span


class ChangeKind(enum.StrEnum):
    DEPLOY = "deploy"
    CONFIG = "config"
    SCALE = "scale"
    COMMIT = "commit"


class Change(BaseModel):
    """A recent change to the fleet: a deploy, a config edit, a commit to ``deploy/fleet.yaml``."""

    model_config = ConfigDict(frozen=True)

    time_us: int
    service: str | None = Field(default=None, description="None when the change is fleet-wide")
    kind: ChangeKind
    summary: str = ""
    ref: str | None = Field(default=None, description="commit sha, PR or deploy id")


class TelemetryWindow(BaseModel):
    """Everything observed in ``[start_us, end_us)``, less ``excluded_us`` of it that was left out
    (the spans of an earlier incident in a baseline). Lists are in no guaranteed order."""

    model_config = ConfigDict(frozen=True)

    start_us: int
    end_us: int
    excluded_us: int = Field(default=0, ge=0, description="time inside the range left out (earlier incidents)")
    spans: list[Span] = Field(default_factory=list)
    logs: list[LogLine] = Field(default_factory=list)
    metrics: list[MetricSample] = Field(default_factory=list)
    events: list[RuntimeEvent] = Field(default_factory=list)
    changes: list[Change] = Field(default_factory=list)

    @property
    def seconds(self) -> float:
        return max(self.end_us - self.start_us - self.excluded_us, 1) / 1e6
