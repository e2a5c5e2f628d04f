"""The pipeline's vocabulary: the reasons a stage can give, the decisions it returns, the effects
on the tracker it asks for, and the context every stage reads.

A stage is a callable ``(symptom, ctx) -> Symptom | Decision``: a ``Decision`` ends the
symptom's way through the pipeline (with the reason), a ``Symptom`` (possibly amended) goes on to
the next stage. Stages that only annotate record a non-final decision with ``ctx.note``. Every
decision is logged and kept for the status file.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from agents.scout.book import IncidentBook, TrackedIncident
from agents.scout.signals import SignalRegistry
from agents.scout.symptoms import Symptom
from agents.scout.topology import Topology
from sre_space.models.events import WorkItemKind
from sre_space.models.scout import ScoutSettings

log = logging.getLogger("agents.scout.pipeline")


class Reason(enum.StrEnum):
    UNKNOWN_SERVICE = "unknown_service"  # fingerprint: not a service of the fleet
    SEVERITY_FROM_SLO = "severity_from_slo"  # severity: raised by a burning SLO it feeds
    REPEAT = "repeat"  # dedupe: counted on its open incident
    SEVERITY_RAISED = "severity_raised"  # dedupe: counted, and the incident became more severe
    GROUPED = "grouped"  # group: joined the open incident of a related service
    GROUPED_REROOTED = "grouped_rerooted"  # group: joined, and became the incident's likelier root
    INHIBITED = "inhibited"  # inhibit: explained by a firing crash of a dependency / a broker outage
    FLAPPING = "flapping"  # flapping: opens with auto-resolve held until it calms down
    PENDING = "pending"  # pending: a soft signal not yet seen in enough checks in a row
    OPENED = "opened"  # route: a new incident
    REOPENED = "reopened"  # route: a recurrence within the window reopened the old incident
    REPEATS_REPORTED = "repeats_reported"  # report: the counter and a comment went to the tracker
    PRIMARY_MOVED = "primary_moved"  # resolve: the primary recovered; a still-firing symptom leads now
    RESOLVED = "resolved"  # resolve: healthy for the configured number of checks
    RESOLVED_STALE = "resolved_stale"  # resolve: no detector reported its signals for too long
    RESOLVE_HELD = "resolve_held_flapping"  # resolve: healthy now, but flapping


QUIET = {Reason.REPEAT, Reason.PENDING, Reason.SEVERITY_FROM_SLO}  # too frequent for INFO


class Decision(BaseModel):
    """What a stage decided about one symptom (or one incident), and why."""

    model_config = ConfigDict(frozen=True)

    at: float
    stage: str
    reason: Reason
    fingerprint: str
    incident: int | None = None  # the book's key
    final: bool = True
    detail: str = ""


class EffectKind(enum.StrEnum):
    OPEN = "open"
    REOPEN = "reopen"
    UPDATE = "update"  # rewrite the body and the labels from the incident's current state
    COMMENT = "comment"
    RESOLVE = "resolve"


@dataclass(frozen=True)
class Effect:
    """A change the tracker must see; applied in order by ``incidents.IncidentDesk``."""

    kind: EffectKind
    key: int
    text: str = ""
    work: WorkItemKind | None = None  # publish a work item once the tracker has it


@dataclass
class Context:
    """What the stages read and write while one check goes through the pipeline."""

    cfg: ScoutSettings
    book: IncidentBook
    signals: SignalRegistry
    topology: Topology
    known: set[str]
    now: float
    effects: list[Effect] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    last_reason: dict[str, Reason] = field(default_factory=dict)  # per fingerprint, across checks

    def decide(self, stage: str, fp: str, reason: Reason, detail: str = "",
               incident: TrackedIncident | None = None, final: bool = True) -> Decision:
        decision = Decision(at=self.now, stage=stage, reason=reason, fingerprint=fp, detail=detail, final=final,
                            incident=incident.key if incident else None)
        self.decisions.append(decision)
        # A decision repeated check after check is logged at INFO once, then at DEBUG.
        repeated = self.last_reason.get(fp) == reason
        self.last_reason[fp] = reason
        level = logging.DEBUG if reason in QUIET or repeated else logging.INFO
        where = f" #{incident.number or '?'}" if incident else ""
        log.log(level, "%s %s → %s%s %s", stage, fp, reason.value, where, detail)
        return decision

    def note(self, stage: str, fp: str, reason: Reason, detail: str = "") -> None:
        self.decide(stage, fp, reason, detail, final=False)

    def effect(self, kind: EffectKind, incident: TrackedIncident, text: str = "",
               work: WorkItemKind | None = None) -> None:
        self.effects.append(Effect(kind, incident.key, text, work))

    def flapping(self, fp: str) -> bool:
        return self.signals.flapping(fp, self.now, self.cfg.flap_changes, self.cfg.flap_window_s)


class Stage(Protocol):
    name: str

    def __call__(self, symptom: Symptom, ctx: Context) -> Symptom | Decision: ...
