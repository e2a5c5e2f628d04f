"""HTTP payloads shared by the services (the frontend relays them; traffic sends them)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Product = Literal["auto", "home", "life", "travel"]
PRODUCTS: tuple[Product, ...] = ("auto", "home", "life", "travel")


class QuoteRequest(BaseModel):
    """A customer's request for a quote."""

    model_config = ConfigDict(extra="forbid")

    user_id: int = Field(ge=1)
    product: Product


class Quote(BaseModel):
    """A priced quote, as quote-service returns it."""

    quote_id: str
    user_id: int
    product: Product
    premium: float
    currency: str = "EUR"
    pricing_model: str
    created_at: str


class PolicyStatus(StrEnum):
    """Where a quote's policy stands."""

    PENDING = "pending"
    PURCHASED = "purchased"
    FAILED = "failed"


class Policy(BaseModel):
    """A quote's policy as policy-service reports it (``pending`` until the event is handled)."""

    quote_id: str
    status: PolicyStatus
    policy_id: str | None = None
    user_id: int | None = None
    product: str | None = None
    premium: float | None = None
    reason: str | None = None
    updated_at: str | None = None


class UserProfile(BaseModel):
    """A user as user-service returns it."""

    user_id: int
    name: str
    age: int
    region: str
    risk_score: float = Field(ge=0, le=1)
    status: Literal["active", "suspended"]
