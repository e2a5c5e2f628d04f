"""frontend: the customer web page (``GET /``) and the JSON API behind it, which relays to
quote-service (``POST /api/quotes``) and policy-service (``GET /api/policies/{quote_id}``)."""

from __future__ import annotations

from importlib.resources import files

import httpx
from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, JSONResponse

from services.common.api import QuoteRequest
from services.common.app import create_app
from services.common.context import ServiceContext

PAGE = files("services.frontend") / "static" / "index.html"


def relay(resp: httpx.Response) -> JSONResponse:
    """A downstream answer passed to the browser unchanged (status and JSON body)."""
    try:
        body = resp.json()
    except ValueError:
        body = {"error": resp.text[:200]}
    return JSONResponse(body, status_code=resp.status_code)


def build(ctx: ServiceContext) -> FastAPI:
    """The frontend app."""
    s = ctx.settings
    quotes = ctx.client("quote-service", s.quote_service_url)
    policies = ctx.client("policy-service", s.policy_service_url)
    page = PAGE.read_text()
    router = APIRouter()

    @router.get("/", response_class=HTMLResponse)
    async def index() -> str:
        return page

    @router.post("/api/quotes")
    async def request_quote(req: QuoteRequest) -> JSONResponse:
        return relay(await quotes.post("/quotes", route="/quotes", json=req.model_dump()))

    @router.get("/api/policies/{quote_id}")
    async def policy_status(quote_id: str) -> JSONResponse:
        return relay(await policies.get(f"/policies/{quote_id}", route="/policies/{quote_id}"))

    return create_app(ctx, router)
