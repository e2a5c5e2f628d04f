"""Business events on Kafka: JSON objects with a ``type`` field and a ``schema_version``.

Topics (4 partitions each, created at start-up): ``insurecloud.quotes`` carries
``quote_requested``; ``insurecloud.policies`` carries ``policy_purchased`` and ``policy_failed``.
Records are keyed by quote id, so every event of one quote lands on one partition, in order.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from services.common.errors import MalformedEvent

QUOTES_TOPIC = "insurecloud.quotes"
POLICIES_TOPIC = "insurecloud.policies"
TOPIC_PARTITIONS = {QUOTES_TOPIC: 4, POLICIES_TOPIC: 4}
SCHEMA_VERSION = 1


def utcnow() -> datetime:
    return datetime.now(UTC)


class BusinessEvent(BaseModel):
    """Fields every business event carries; subclasses add the ``type`` tag."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_version: int = SCHEMA_VERSION
    quote_id: str
    user_id: int
    product: str
    premium: float
    time: datetime = Field(default_factory=utcnow)


class QuoteRequested(BusinessEvent):
    """A customer asked for a quote and got a price (published by quote-service)."""

    type: Literal["quote_requested"] = "quote_requested"


class PolicyPurchased(BusinessEvent):
    """A quote became a policy (published by policy-service)."""

    type: Literal["policy_purchased"] = "policy_purchased"
    policy_id: str


class PolicyFailed(BusinessEvent):
    """A quote could not become a policy; ``reason`` says why (published by policy-service)."""

    type: Literal["policy_failed"] = "policy_failed"
    reason: str


Event = Annotated[QuoteRequested | PolicyPurchased | PolicyFailed, Field(discriminator="type")]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def encode(event: BusinessEvent) -> bytes:
    """Serialise an event as compact JSON (times in ISO-8601 UTC)."""
    return event.model_dump_json().encode()


def decode(raw: bytes | None) -> QuoteRequested | PolicyPurchased | PolicyFailed:
    """Parse a record value into its event type; anything else raises MalformedEvent."""
    if not raw:
        raise MalformedEvent("empty record")
    try:
        return EVENT_ADAPTER.validate_json(raw)
    except ValidationError as exc:
        raise MalformedEvent(f"not an InsureCloud event: {exc.error_count()} validation error(s)") from exc
