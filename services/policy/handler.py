"""policy-service's work per ``quote_requested`` record: eligibility, decision, store, publish.

Every quote ends as ``policy_purchased`` or ``policy_failed`` (with a reason), including when
user-service is unavailable or handling fails unexpectedly, so the business stream always says
what happened. Broker and database outages instead propagate (``BusUnavailable``/``PoolTimeout``)
and the record is delivered again later.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from opentelemetry import trace

from services.common.api import Policy, PolicyStatus, UserProfile
from services.common.errors import BusUnavailable, DependencyError, MalformedEvent, PoolTimeout
from services.common.events import POLICIES_TOPIC, PolicyFailed, PolicyPurchased, QuoteRequested, decode, utcnow
from services.common.flags import FlagStore, apply_request_flags
from services.common.http import ServiceClient
from services.common.kafka import EventBus
from services.common.settings import ServiceSettings
from services.policy.rules import Decision, Reason, decide
from services.policy.store import PolicyStore

log = logging.getLogger(__name__)


class QuoteHandler:
    """Turns quote_requested events into policies."""

    def __init__(
        self, settings: ServiceSettings, users: ServiceClient, bus: EventBus, store: PolicyStore, flags: FlagStore
    ) -> None:
        self.settings, self.users, self.bus, self.store, self.flags = settings, users, bus, store, flags

    async def __call__(self, record: Any) -> None:
        event = decode(record.value)
        if not isinstance(event, QuoteRequested):
            raise MalformedEvent(f"unexpected event type {event.type} on the quotes topic")
        trace.get_current_span().set_attribute("insurecloud.quote_id", event.quote_id)
        try:
            decision = await self._decide(event)
        except (BusUnavailable, PoolTimeout):
            raise
        except Exception:  # noqa: BLE001 - the quote still gets an outcome on the business stream
            log.exception("deciding quote %s failed", event.quote_id)
            decision = Decision(purchased=False, reason=Reason.INTERNAL_ERROR)
        stored = await self.store.record(self._policy(event, decision))
        await self._publish(stored)

    async def _decide(self, event: QuoteRequested) -> Decision:
        flags = self.flags.current()
        await apply_request_flags(flags)
        try:
            resp = await self.users.get(f"/users/{event.user_id}", route="/users/{user_id}")
        except DependencyError as exc:
            log.warning("eligibility check unavailable for quote %s: %s", event.quote_id, exc)
            return Decision(purchased=False, reason=Reason.USER_SERVICE_UNAVAILABLE)
        if resp.status_code == 404:
            return Decision(purchased=False, reason=Reason.USER_NOT_FOUND)
        profile = UserProfile.model_validate(resp.json())
        max_premium = flags.max_policy_premium or self.settings.max_policy_premium
        return decide(event.premium, profile, rule=flags.purchase_rule or "standard", max_premium=max_premium)

    @staticmethod
    def _policy(event: QuoteRequested, decision: Decision) -> Policy:
        return Policy(
            quote_id=event.quote_id, user_id=event.user_id, product=event.product, premium=event.premium,
            status=PolicyStatus.PURCHASED if decision.purchased else PolicyStatus.FAILED,
            policy_id=uuid.uuid4().hex if decision.purchased else None,
            reason=decision.reason.value if decision.reason else None, updated_at=utcnow().isoformat(),
        )

    async def _publish(self, policy: Policy) -> None:
        common = {"quote_id": policy.quote_id, "user_id": policy.user_id or 0, "product": policy.product or "",
                  "premium": policy.premium or 0.0}
        if policy.status is PolicyStatus.PURCHASED:
            await self.bus.publish(POLICIES_TOPIC, PolicyPurchased(policy_id=policy.policy_id or "", **common),
                                   key=policy.quote_id)
            log.info("policy purchased for quote %s", policy.quote_id)
        else:
            await self.bus.publish(POLICIES_TOPIC, PolicyFailed(reason=policy.reason or "unknown", **common),
                                   key=policy.quote_id)
            log.info("policy failed for quote %s: %s", policy.quote_id, policy.reason)
