"""Events the control plane exchanges over Kafka: frozen, versioned, JSON on the wire."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

INCIDENTS_TOPIC = "sre.incidents"
INCIDENTS_PARTITIONS = 4


class WorkItemKind(enum.StrEnum):
    OPENED = "opened"
    UPDATED = "updated"
    REOPENED = "reopened"
    RESOLVED = "resolved"


class IncidentWorkItem(BaseModel):
    """Scout → workflow: an incident needs (more) work. Keyed by incident number on
    ``sre.incidents`` so that one partition, and so one worker, owns an incident at a time."""

    model_config = ConfigDict(frozen=True)

    type: Literal["incident_work_item"] = "incident_work_item"
    schema_version: int = 1
    incident: int = Field(description="tracker issue number")
    kind: WorkItemKind
    fingerprint: str = Field(description="service + signal, e.g. 'quote-service:oom_killed'")
    service: str
    signal: str
    severity: int = Field(ge=1, le=4)
    time: datetime
    summary: str = ""

    @property
    def key(self) -> bytes:
        return str(self.incident).encode()
