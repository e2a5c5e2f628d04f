"""What the control plane decides to do about an incident (a ``Plan``), what it observed of a
service before and after (``ServiceHealth``), and how it judged the result (``Verdict``)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ActionKind(enum.StrEnum):
    """Remediations the workflow can perform; ``none`` means only a person can fix it."""

    RESTART = "restart"
    NONE = "none"


class Plan(BaseModel):
    """One remediation step: the action, its target and parameters, how risky it is (0..1), what it
    should change, how to reverse it (None when it cannot or need not be reversed), and why."""

    model_config = ConfigDict(frozen=True)

    schema_version: int = 1
    action: ActionKind
    target: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    risk: float = Field(0.0, ge=0.0, le=1.0)
    expected_effect: str = ""
    reversal: ActionKind | None = None
    reason: str = ""
    attempt: int = Field(1, ge=1)

    @property
    def needs_human(self) -> bool:
        return self.action == ActionKind.NONE or self.target is None


class ServiceHealth(BaseModel):
    """A service as seen from outside at one moment: instances, probes, restarts."""

    model_config = ConfigDict(frozen=True)

    service: str
    instances: int = 0
    running: int = 0
    health: bool | None = None
    ready: bool | None = None
    restart_count: int = 0
    last_started: datetime | None = None
    known: bool = True

    @property
    def healthy(self) -> bool:
        """Running, and no probe says otherwise (a service without probes counts on running alone)."""
        return self.running > 0 and self.health is not False and self.ready is not False

    @property
    def score(self) -> int:
        """A coarse order of health (more is better), to tell "worse" from "unchanged"."""
        return min(self.running, 1) + int(self.health is True) + int(self.ready is True)


class Verdict(enum.StrEnum):
    """Verification's answer: healthy and stable, no better than before, or worse than before."""

    MITIGATED = "mitigated"
    UNCHANGED = "unchanged"
    WORSE = "worse"
