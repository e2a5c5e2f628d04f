"""What detectors report: typed symptoms (something is wrong), clears (it was checked and is
fine) and the outcome of one check. The pipeline never sees raw telemetry, only these.

Times are seconds since the epoch from an injected clock, so every stage is testable without
sleeping.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Clock = Callable[[], float]
BROKER = "broker"  # the event bus, reported like a service of its own


def wall_clock() -> float:
    return time.time()


class Detector(enum.StrEnum):
    HEALTH = "health"
    BUSINESS = "business"
    RED = "red"
    SLO = "slo"
    BROKER = "broker"


class Signal(enum.StrEnum):
    """Signals of the built-in detectors. Business SLIs and SLOs use ``sli.<name>`` and
    ``slo.<name>`` (their declared names)."""

    OOM_KILLED = "oom_killed"
    EXITED = "exited"
    CRASH_LOOP = "crash_loop"
    DOWN = "down"
    NOT_READY = "not_ready"
    ERROR_RATIO = "error_ratio"
    LATENCY_P95 = "latency_p95"
    TRAFFIC_DROP = "traffic_drop"
    CONSUMER_LAG = "consumer_lag"
    BROKER_UNAVAILABLE = "broker_unavailable"


# A crash of a service explains its callers' symptoms (inhibition) and is the likelier root
# when symptoms of related services are grouped (the rank orders signals, most specific first).
CRASH_SIGNALS = frozenset({Signal.OOM_KILLED, Signal.EXITED, Signal.CRASH_LOOP, Signal.DOWN})
# Signals that depend on the event bus: a broker outage explains them.
BUS_SIGNALS_PREFIX = ("sli.",)
BUS_SIGNALS = frozenset({Signal.CONSUMER_LAG, Signal.NOT_READY})
_RANK = [Signal.OOM_KILLED, Signal.CRASH_LOOP, Signal.EXITED, Signal.DOWN, Signal.BROKER_UNAVAILABLE]


def sli_signal(name: str) -> str:
    return f"sli.{name}"


def slo_signal(name: str) -> str:
    return f"slo.{name}"


def signal_rank(signal: str) -> int:
    """Lower is more specific about a cause: OOM kill < crash loop < exit < down < the rest <
    SLO burn rates (which say how much it hurts, not what is wrong)."""
    if signal.startswith("slo."):
        return len(_RANK) + 1
    try:
        return _RANK.index(Signal(signal))
    except ValueError:
        return len(_RANK)


def is_crash(signal: str) -> bool:
    return signal in CRASH_SIGNALS


def depends_on_bus(signal: str) -> bool:
    return signal in BUS_SIGNALS or signal.startswith(BUS_SIGNALS_PREFIX)


def fingerprint(service: str, signal: str) -> str:
    """``service:signal``: what makes two symptoms the same problem."""
    return f"{service}:{signal}"


class Symptom(BaseModel):
    """Something a detector found wrong, with the numbers and the evidence behind it."""

    model_config = ConfigDict(frozen=True)

    service: str
    signal: str
    detector: Detector
    at: float = Field(description="seconds since the epoch")
    value: float | None = None
    threshold: float | None = None
    severity: int = Field(3, ge=1, le=4, description="the detector's hint; SLO impact may raise it")
    summary: str = ""
    evidence: dict[str, Any] = Field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.service, self.signal)

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.at, UTC)


class Clear(BaseModel):
    """A signal that was evaluated and found healthy (what auto-resolution counts)."""

    model_config = ConfigDict(frozen=True)

    service: str
    signal: str
    at: float

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.service, self.signal)


class CheckStatus(enum.StrEnum):
    OK = "ok"  # evaluated (symptoms and clears say what was found)
    NO_DATA = "no_data"  # nothing to evaluate (no traffic, no stack, too few events)
    ERROR = "error"  # the source failed; ``detail`` says how


class Check(BaseModel):
    """The outcome of one run of a detector."""

    model_config = ConfigDict(frozen=True)

    detector: Detector
    at: float
    status: CheckStatus = CheckStatus.OK
    symptoms: list[Symptom] = Field(default_factory=list)
    clears: list[Clear] = Field(default_factory=list)
    detail: str = ""

