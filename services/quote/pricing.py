"""Pricing: a quote's yearly premium from the product, the user's profile and the pricing model.

premium = base(product) x age factor x risk factor x model multiplier, rounded to cents.
``PRICING_MODEL`` (knob) or the ``pricing_model`` runtime flag picks the multiplier table entry.
"""

from __future__ import annotations

from services.common.api import Product, UserProfile
from services.common.errors import ServiceError

BASE_PREMIUM: dict[Product, float] = {"auto": 600.0, "home": 400.0, "life": 300.0, "travel": 80.0}
PRICING_MODELS: dict[str, float] = {
    "standard": 1.0,
    "discount": 0.85,
    "premium": 1.5,
    # The actuarial table under evaluation: priced for high-risk portfolios only.
    "experimental": 12.0,
}


class UnknownPricingModel(ServiceError):
    """A pricing model name that is not in PRICING_MODELS."""

    status = 500


def check_model(model: str) -> str:
    """The model name if known, else UnknownPricingModel naming the known ones."""
    if model not in PRICING_MODELS:
        raise UnknownPricingModel(f"PRICING_MODEL: unknown model {model!r} (known: {', '.join(PRICING_MODELS)})")
    return model


def age_factor(age: int) -> float:
    """Young and senior drivers/holders cost more."""
    if age < 25:
        return 1.4
    if age >= 65:
        return 1.3
    return 1.0


def risk_factor(risk_score: float) -> float:
    """0.8 for the safest profile, 1.6 for the riskiest."""
    return 0.8 + 0.8 * risk_score


def price(product: Product, profile: UserProfile, model: str = "standard") -> float:
    """The yearly premium in EUR."""
    multiplier = PRICING_MODELS[check_model(model)]
    return round(BASE_PREMIUM[product] * age_factor(profile.age) * risk_factor(profile.risk_score) * multiplier, 2)
