"""Scout's declarations and tunables (``settings.scout``, env ``SRE_SCOUT__*``).

What Scout watches is declared, not coded (DESIGN §4): business SLIs over Kafka events (a topic,
the field holding the event type, and the types that count as good, bad and total), the consumer
groups whose lag matters, and SLOs with their error budgets and burn-rate alerts. The defaults
describe the InsureCloud demo fleet; a user's own fleet is watched by changing this configuration.

Time windows are scaled so that a demo fault is caught in seconds: the SLO period is one hour
(30 days / 720) and the burn-rate alerts keep the Google SRE workbook's pairs of a long and a
short window (ratio 12) and their burn rates (14.4, 6, 1), with the long windows stretched to at
least a minute so that a 2-second scrape interval still gives enough samples.
"""

from __future__ import annotations

import enum
import re
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,40}$")


def _name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f"{value!r}: lower-case letters, digits and '-', starting with a letter")
    return value


class BusinessSLI(BaseModel):
    """A ratio of event types over a sliding window of Kafka events.

    ``good`` / ``total`` with ``min_good_ratio`` (conversion = policy_purchased / quote_requested)
    or ``bad`` / ``total`` with ``max_bad_ratio`` (policy_failed / all outcomes)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    service: str = Field(description="the service an incident about this SLI is filed against")
    topics: list[str] = Field(min_length=1)
    type_field: str = "type"
    good: list[str] = Field(default_factory=list)
    bad: list[str] = Field(default_factory=list)
    total: list[str] = Field(min_length=1)
    min_good_ratio: float | None = Field(default=None, ge=0, le=1)
    max_bad_ratio: float | None = Field(default=None, ge=0, le=1)
    window_s: float = Field(20.0, gt=0)
    settle_s: float = Field(2.0, ge=0, description="leave the newest seconds out: outcomes trail their requests")
    min_events: int = Field(10, ge=1, description="fewer `total` events in the window = no verdict")
    severity: int = Field(2, ge=1, le=4)

    _valid_name = field_validator("name", "service")(_name)

    @model_validator(mode="after")
    def _one_direction(self) -> Self:
        if bool(self.good) == bool(self.bad):
            raise ValueError(f"business SLI {self.name}: declare exactly one of `good` or `bad`")
        if self.good and self.min_good_ratio is None:
            raise ValueError(f"business SLI {self.name}: `good` needs `min_good_ratio`")
        if self.bad and self.max_bad_ratio is None:
            raise ValueError(f"business SLI {self.name}: `bad` needs `max_bad_ratio`")
        return self

    @property
    def types(self) -> set[str]:
        return {*self.good, *self.bad, *self.total}


class ConsumerGroupWatch(BaseModel):
    """A consumer group of the fleet whose lag on a topic Scout watches."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    group: str
    topic: str
    service: str
    max_lag: int = Field(100, ge=1, description="records behind, summed over partitions")
    severity: int = Field(3, ge=1, le=4)

    _valid_service = field_validator("service")(_name)


class SLIKind(enum.StrEnum):
    AVAILABILITY = "availability"  # non-5xx responses / responses (from /metrics)
    LATENCY = "latency"  # responses within threshold_s / responses (histogram bucket)
    BUSINESS = "business"  # a declared business SLI's good (or non-bad) events / total


class SLO(BaseModel):
    """A service level objective: an SLI, its target and whose it is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    service: str
    kind: SLIKind
    objective: float = Field(gt=0, lt=1)
    threshold_s: float | None = Field(default=None, gt=0, description="latency SLOs: the bucket bound")
    sli: str | None = Field(default=None, description="business SLOs: the business SLI's name")

    _valid_name = field_validator("name", "service")(_name)

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.kind == SLIKind.LATENCY and self.threshold_s is None:
            raise ValueError(f"SLO {self.name}: a latency SLO needs threshold_s")
        if self.kind == SLIKind.BUSINESS and not self.sli:
            raise ValueError(f"SLO {self.name}: a business SLO needs sli (a business SLI's name)")
        return self


class BurnAlert(BaseModel):
    """Fire when the burn rate over both windows is at least ``burn_rate`` (SRE workbook ch. 5)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    long_s: float = Field(gt=0)
    short_s: float = Field(gt=0)
    burn_rate: float = Field(gt=0)
    severity: int = Field(ge=1, le=4)


class RedSettings(BaseModel):
    """RED (rate, errors, duration) per service from /metrics, against its own recent baseline."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    window_s: float = Field(20.0, gt=0, description="the recent window compared with the baseline")
    baseline_s: float = Field(300.0, gt=0, description="how far back the baseline reaches")
    min_baseline_s: float = Field(30.0, ge=0, description="until then only absolute floors apply")
    min_requests: int = Field(10, ge=1, description="fewer requests in the window = no verdict")
    error_floor: float = Field(0.05, ge=0, le=1, description="an error ratio below this never fires")
    error_factor: float = Field(3.0, ge=1)
    latency_floor_s: float = Field(0.5, gt=0, description="a p95 below this never fires")
    latency_factor: float = Field(3.0, ge=1)
    drop_ratio: float = Field(0.1, gt=0, lt=1, description="traffic below this share of the baseline fires")
    min_baseline_rps: float = Field(1.0, gt=0, description="traffic drops are judged above this baseline rate")
    ignore_routes: list[str] = Field(default_factory=lambda: ["/health", "/ready", "/metrics"])


def default_business_slis() -> list[BusinessSLI]:
    return [
        BusinessSLI(
            name="conversion", service="policy-service", topics=["insurecloud.quotes", "insurecloud.policies"],
            good=["policy_purchased"], total=["quote_requested"], min_good_ratio=0.8,
        ),
        BusinessSLI(
            name="policy-failures", service="policy-service", topics=["insurecloud.policies"],
            bad=["policy_failed"], total=["policy_purchased", "policy_failed"], max_bad_ratio=0.2,
        ),
    ]


def default_slos() -> list[SLO]:
    return [
        SLO(name="frontend-availability", service="frontend", kind=SLIKind.AVAILABILITY, objective=0.99),
        SLO(name="frontend-latency", service="frontend", kind=SLIKind.LATENCY, objective=0.95, threshold_s=1.0),
        SLO(name="conversion", service="policy-service", kind=SLIKind.BUSINESS, objective=0.95, sli="conversion"),
    ]


def default_burn_alerts() -> list[BurnAlert]:
    return [
        BurnAlert(long_s=60, short_s=5, burn_rate=14.4, severity=1),
        BurnAlert(long_s=360, short_s=30, burn_rate=6, severity=2),
        BurnAlert(long_s=1800, short_s=150, burn_rate=1, severity=3),
    ]


class ScoutSettings(BaseModel):
    """Intervals, windows, thresholds and declarations of Scout."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    group_id: str = Field("sre-scout", description="Scout's Kafka consumer group (processes share it)")
    health_interval_s: float = Field(1.0, gt=0)
    metrics_interval_s: float = Field(2.0, gt=0, description="RED, SLO, business SLI and lag checks")
    topology_interval_s: float = Field(60.0, gt=0, description="refresh of the trace dependency graph")
    probe_timeout_s: float = Field(1.0, gt=0)
    startup_grace_s: float = Field(30.0, ge=0, description="a fresh instance may be unready this long")
    max_message_bytes: int = Field(65_536, ge=64, description="larger Kafka records are skipped")
    pending_checks: int = Field(2, ge=1, description="checks a soft signal must fire before it counts")
    healthy_checks_to_resolve: int = Field(3, ge=1)
    stale_after_s: float = Field(120.0, gt=0, description="a signal nobody reports for this long is healthy")
    group_window_s: float = Field(60.0, ge=0, description="related symptoms this close join one incident")
    recurrence_window_s: float = Field(1800.0, ge=0, description="a recurrence this soon reopens the incident")
    comment_every_s: float = Field(60.0, ge=0, description="at most one repeat comment per incident this often")
    flap_changes: int = Field(4, ge=2, description="state changes within flap_window_s that make a signal flap")
    flap_window_s: float = Field(300.0, gt=0)
    slo_period_s: float = Field(3600.0, gt=0, description="the error budget's period (30 days scaled)")
    red: RedSettings = RedSettings()
    burn_alerts: list[BurnAlert] = Field(default_factory=default_burn_alerts)
    slos: list[SLO] = Field(default_factory=default_slos)
    business_slis: list[BusinessSLI] = Field(default_factory=default_business_slis)
    consumer_groups: list[ConsumerGroupWatch] = Field(
        default_factory=lambda: [ConsumerGroupWatch(group="policy-service", topic="insurecloud.quotes",
                                                    service="policy-service")]
    )

    @model_validator(mode="after")
    def _references(self) -> Self:
        names = {s.name for s in self.business_slis}
        for slo in self.slos:
            if slo.kind == SLIKind.BUSINESS and slo.sli not in names:
                raise ValueError(f"SLO {slo.name}: no business SLI named {slo.sli!r}")
        return self

    def topics(self) -> list[str]:
        """Every topic Scout reads: the SLIs' and the watched consumer groups'."""
        return sorted({t for s in self.business_slis for t in s.topics} | {w.topic for w in self.consumer_groups})

    def business_sli(self, name: str) -> BusinessSLI:
        return next(s for s in self.business_slis if s.name == name)
