"""policy-service storage: one row per quote with its final status."""

from __future__ import annotations

import sqlite3

from services.common.api import Policy, PolicyStatus
from services.common.db import SqlitePool

SCHEMA = """
CREATE TABLE IF NOT EXISTS policies (
    quote_id TEXT PRIMARY KEY,
    policy_id TEXT,
    user_id INTEGER NOT NULL,
    product TEXT NOT NULL,
    premium REAL NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    updated_at TEXT NOT NULL
);
"""
_COLUMNS = ("quote_id", "policy_id", "user_id", "product", "premium", "status", "reason", "updated_at")


class PolicyStore:
    """Policies by quote id; the first decision for a quote wins (redeliveries keep it)."""

    def __init__(self, pool: SqlitePool) -> None:
        self.pool = pool

    async def record(self, policy: Policy) -> Policy:
        """Insert the decision unless one exists; returns the stored one."""
        row = tuple(getattr(policy, c) for c in _COLUMNS)

        def upsert(conn: sqlite3.Connection) -> sqlite3.Row:
            conn.execute(f"INSERT OR IGNORE INTO policies ({', '.join(_COLUMNS)}) VALUES (?,?,?,?,?,?,?,?)", row)
            stored: sqlite3.Row = conn.execute(
                "SELECT * FROM policies WHERE quote_id = ?", (policy.quote_id,)
            ).fetchone()
            return stored

        return Policy(**dict(await self.pool.run(upsert, "INSERT policies")))

    async def get(self, quote_id: str) -> Policy:
        """The stored policy, or ``pending`` when the quote has not been handled yet."""
        row = await self.pool.fetch_one("SELECT * FROM policies WHERE quote_id = ?", (quote_id,), "SELECT policies")
        return Policy(**row) if row is not None else Policy(quote_id=quote_id, status=PolicyStatus.PENDING)
