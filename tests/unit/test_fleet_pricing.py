"""quote-service pricing and policy-service purchase rules: table tests."""

from __future__ import annotations

import pytest

from services.common.api import UserProfile
from services.policy.rules import Reason, decide
from services.quote.pricing import UnknownPricingModel, check_model, price


def profile(age: int = 40, risk: float = 0.5, status: str = "active") -> UserProfile:
    return UserProfile(user_id=1, name="Ada Rossi", age=age, region="north", risk_score=risk, status=status)


@pytest.mark.parametrize(
    ("product", "age", "risk", "model", "expected"),
    [
        ("auto", 40, 0.5, "standard", 720.0),  # 600 x 1.0 x 1.2
        ("auto", 20, 0.5, "standard", 1008.0),  # young: x1.4
        ("home", 70, 0.0, "standard", 416.0),  # senior x1.3, safest x0.8
        ("travel", 40, 1.0, "standard", 128.0),  # riskiest x1.6
        ("life", 40, 0.5, "discount", 306.0),  # 300 x 1.2 x 0.85
        ("auto", 20, 1.0, "experimental", 16128.0),  # the table that prices above the policy limit
    ],
)
def test_price(product: str, age: int, risk: float, model: str, expected: float) -> None:
    assert price(product, profile(age, risk), model) == pytest.approx(expected)  # type: ignore[arg-type]


def test_unknown_pricing_model_is_a_one_line_error() -> None:
    with pytest.raises(UnknownPricingModel, match=r"unknown model 'surge' \(known: standard, discount"):
        check_model("surge")


@pytest.mark.parametrize(
    ("premium", "user", "rule", "limit", "reason"),
    [
        (700.0, profile(), "standard", 10000, None),  # the normal purchase
        (700.0, profile(status="suspended"), "standard", 10000, Reason.USER_NOT_ELIGIBLE),
        (700.0, profile(), "standard", 1, Reason.PREMIUM_OVER_LIMIT),  # limit lowered to 1
        (700.0, profile(risk=0.8), "require_low_risk", 10000, Reason.RISK_TOO_HIGH),
        (700.0, profile(risk=0.2), "require_low_risk", 10000, None),
        (700.0, profile(), "manual_review", 10000, Reason.MANUAL_REVIEW),
        (700.0, profile(), "no-such-rule", 10000, None),  # unknown rule behaves as standard
    ],
)
def test_purchase_rules(premium: float, user: UserProfile, rule: str, limit: float, reason: Reason | None) -> None:
    decision = decide(premium, user, rule=rule, max_premium=limit)
    assert decision.purchased is (reason is None)
    assert decision.reason == reason
