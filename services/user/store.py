"""user-service storage: a SQLite table of profiles, seeded with USER_COUNT users on first start.

Seeding is deterministic (fixed random seed, ids 1..USER_COUNT, ``INSERT OR IGNORE``), so
replicas sharing one file and restarts agree on every profile.
"""

from __future__ import annotations

import random
import sqlite3

from services.common.api import UserProfile
from services.common.db import SqlitePool

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    user_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    age INTEGER NOT NULL,
    region TEXT NOT NULL,
    risk_score REAL NOT NULL,
    status TEXT NOT NULL
);
"""
_FIRST = ("Ada", "Bruno", "Chloe", "Dmitri", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Keiko", "Luca")
_LAST = ("Moreau", "Nakamura", "Okafor", "Petrov", "Quinn", "Rossi", "Silva", "Tanaka", "Ulrich", "Varga")
_REGIONS = ("north", "south", "east", "west", "central")


def seed_rows(count: int, seed: int = 7) -> list[tuple[int, str, int, str, float, str]]:
    """The deterministic profiles for ids 1..count (every seeded user is active)."""
    rng = random.Random(seed)
    return [
        (i, f"{rng.choice(_FIRST)} {rng.choice(_LAST)}", rng.randint(18, 85), rng.choice(_REGIONS),
         round(rng.random(), 3), "active")
        for i in range(1, count + 1)
    ]


class UserStore:
    """Profiles by id."""

    def __init__(self, pool: SqlitePool) -> None:
        self.pool = pool

    async def seed(self, count: int) -> int:
        """Insert the seeded users that are missing; returns how many exist afterwards."""

        def insert(conn: sqlite3.Connection) -> int:
            have = conn.execute("SELECT COUNT(*) FROM users").fetchone()[0]
            if have < count:
                conn.executemany("INSERT OR IGNORE INTO users VALUES (?, ?, ?, ?, ?, ?)", seed_rows(count))
            return int(conn.execute("SELECT COUNT(*) FROM users").fetchone()[0])

        return await self.pool.run(insert, "INSERT users")

    async def get(self, user_id: int) -> UserProfile | None:
        row = await self.pool.fetch_one("SELECT * FROM users WHERE user_id = ?", (user_id,), "SELECT users")
        return UserProfile(**row) if row is not None else None
