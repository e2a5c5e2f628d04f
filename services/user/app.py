"""user-service: user profiles in SQLite (``GET /users/{user_id}``), seeded on first start."""

from __future__ import annotations

import logging

from fastapi import APIRouter, FastAPI

from services.common.api import UserProfile
from services.common.app import create_app
from services.common.context import ServiceContext
from services.common.errors import NotFound
from services.user.store import SCHEMA, UserStore

log = logging.getLogger(__name__)


def build(ctx: ServiceContext) -> FastAPI:
    """The user-service app."""
    store = UserStore(ctx.database("users.db", SCHEMA))

    async def seed() -> None:
        total = await store.seed(ctx.settings.user_count)
        log.info("user table ready", extra={"users": total})

    ctx.startup.append(seed)
    router = APIRouter()

    @router.get("/users/{user_id}")
    async def get_user(user_id: int) -> UserProfile:
        profile = await store.get(user_id)
        if profile is None:
            raise NotFound(f"user {user_id} not found")
        return profile

    return create_app(ctx, router)
