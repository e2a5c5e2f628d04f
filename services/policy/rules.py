"""The purchase decision: may this quote become a policy?

Rules (``purchase_rule`` runtime flag; ``standard`` by default):
- ``standard``: the user is active and the premium is at most the premium limit.
- ``require_low_risk``: as standard, and the user's risk score is at most 0.5.
- ``manual_review``: nothing is bought automatically.
The premium limit is MAX_POLICY_PREMIUM unless the ``max_policy_premium`` flag overrides it.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel

from services.common.api import UserProfile

LOW_RISK_LIMIT = 0.5


class Reason(StrEnum):
    """Why a policy was not purchased (the ``reason`` of ``policy_failed``)."""

    USER_NOT_FOUND = "user_not_found"
    USER_NOT_ELIGIBLE = "user_not_eligible"
    PREMIUM_OVER_LIMIT = "premium_over_limit"
    RISK_TOO_HIGH = "risk_too_high"
    MANUAL_REVIEW = "manual_review_required"
    USER_SERVICE_UNAVAILABLE = "user_service_unavailable"
    INTERNAL_ERROR = "internal_error"


class Decision(BaseModel):
    """The outcome for one quote: purchased, or failed with a reason."""

    purchased: bool
    reason: Reason | None = None


PURCHASE = Decision(purchased=True)
RULES = ("standard", "require_low_risk", "manual_review")


def decide(premium: float, profile: UserProfile, *, rule: str, max_premium: float) -> Decision:
    """Apply the purchase rule; an unknown rule name falls back to ``standard``."""
    if rule == "manual_review":
        return Decision(purchased=False, reason=Reason.MANUAL_REVIEW)
    if profile.status != "active":
        return Decision(purchased=False, reason=Reason.USER_NOT_ELIGIBLE)
    if premium > max_premium:
        return Decision(purchased=False, reason=Reason.PREMIUM_OVER_LIMIT)
    if rule == "require_low_risk" and profile.risk_score > LOW_RISK_LIMIT:
        return Decision(purchased=False, reason=Reason.RISK_TOO_HIGH)
    return PURCHASE
