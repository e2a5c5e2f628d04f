"""quote-service: ``POST /quotes`` prices a quote (profile from user-service), stores it and
publishes ``quote_requested`` to ``insurecloud.quotes``; ``GET /quotes/{quote_id}`` reads it back."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, FastAPI

from services.common.api import Quote, QuoteRequest, UserProfile
from services.common.app import create_app
from services.common.context import ServiceContext
from services.common.errors import NotFound
from services.common.events import QUOTES_TOPIC, QuoteRequested, utcnow
from services.quote.pricing import UnknownPricingModel, check_model, price
from services.quote.store import SCHEMA, QuoteStore


def build(ctx: ServiceContext) -> FastAPI:
    """The quote-service app."""
    s = ctx.settings
    try:
        check_model(s.pricing_model)
    except UnknownPricingModel as exc:
        raise SystemExit(str(exc)) from None
    users = ctx.client("user-service", s.user_service_url)
    bus = ctx.event_bus()
    store = QuoteStore(ctx.database("quotes.db", SCHEMA))
    router = APIRouter()

    @router.post("/quotes", status_code=201)
    async def create_quote(req: QuoteRequest) -> Quote:
        resp = await users.get(f"/users/{req.user_id}", route="/users/{user_id}")
        if resp.status_code == 404:
            raise NotFound(f"user {req.user_id} not found")
        profile = UserProfile.model_validate(resp.json())
        model = ctx.flags.current().pricing_model or s.pricing_model
        now = utcnow()
        quote = Quote(
            quote_id=uuid.uuid4().hex, user_id=req.user_id, product=req.product,
            premium=price(req.product, profile, model), pricing_model=model, created_at=now.isoformat(),
        )
        await store.add(quote)
        event = QuoteRequested(
            quote_id=quote.quote_id, user_id=quote.user_id, product=quote.product, premium=quote.premium, time=now
        )
        await bus.publish(QUOTES_TOPIC, event, key=quote.quote_id)
        return quote

    @router.get("/quotes/{quote_id}")
    async def get_quote(quote_id: str) -> Quote:
        quote = await store.get(quote_id)
        if quote is None:
            raise NotFound(f"quote {quote_id} not found")
        return quote

    return create_app(ctx, router)
