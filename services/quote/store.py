"""quote-service storage: every priced quote, by id."""

from __future__ import annotations

import sqlite3

from services.common.api import Quote
from services.common.db import SqlitePool

SCHEMA = """
CREATE TABLE IF NOT EXISTS quotes (
    quote_id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL,
    product TEXT NOT NULL,
    premium REAL NOT NULL,
    currency TEXT NOT NULL,
    pricing_model TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""
_COLUMNS = ("quote_id", "user_id", "product", "premium", "currency", "pricing_model", "created_at")


class QuoteStore:
    """Quotes in SQLite."""

    def __init__(self, pool: SqlitePool) -> None:
        self.pool = pool

    async def add(self, quote: Quote) -> None:
        row = tuple(getattr(quote, c) for c in _COLUMNS)

        def insert(conn: sqlite3.Connection) -> None:
            conn.execute(f"INSERT INTO quotes ({', '.join(_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?)", row)

        await self.pool.run(insert, "INSERT quotes")

    async def get(self, quote_id: str) -> Quote | None:
        row = await self.pool.fetch_one("SELECT * FROM quotes WHERE quote_id = ?", (quote_id,), "SELECT quotes")
        return Quote(**row) if row is not None else None
