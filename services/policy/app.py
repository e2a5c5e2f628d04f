"""policy-service: consumes ``insurecloud.quotes`` (group ``policy-service``), decides and stores
policies, publishes ``policy_purchased``/``policy_failed``; ``GET /policies/{quote_id}`` reports
pending/purchased/failed."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, FastAPI

from services.common.api import Policy
from services.common.app import create_app
from services.common.consumer import ConsumerWorker
from services.common.context import ServiceContext
from services.common.events import QUOTES_TOPIC
from services.policy.handler import QuoteHandler
from services.policy.store import SCHEMA, PolicyStore

GROUP_ID = "policy-service"


def build(ctx: ServiceContext) -> FastAPI:
    """The policy-service app."""
    s = ctx.settings
    users = ctx.client("user-service", s.user_service_url)
    bus = ctx.event_bus()
    store = PolicyStore(ctx.database("policies.db", SCHEMA))
    handler = QuoteHandler(s, users, bus, store, ctx.flags)
    workers: list[ConsumerWorker] = []

    async def start_consumer() -> None:
        worker = ConsumerWorker(
            s.kafka_bootstrap_servers, QUOTES_TOPIC, GROUP_ID, handler, asyncio.get_running_loop(), ctx.metrics,
            client_id=s.instance_id,
        )
        worker.start()
        workers.append(worker)

    async def stop_consumer() -> None:
        for worker in workers:
            await asyncio.to_thread(worker.stop)

    async def consumer_alive() -> bool:
        return all(w.alive for w in workers) and bool(workers)

    ctx.startup.append(start_consumer)
    ctx.shutdown.append(stop_consumer)  # registered last, so it stops first: no handling after the bus closes
    ctx.checks["consumer"] = consumer_alive
    router = APIRouter()

    @router.get("/policies/{quote_id}")
    async def get_policy(quote_id: str) -> Policy:
        return await store.get(quote_id)

    return create_app(ctx, router)
