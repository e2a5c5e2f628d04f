"""Runtime flags: a JSON file re-read when it changes, in the manner of flagd feature flags.

``FLAGS_FILE`` holds one JSON object, for example
``{"extra_latency_ms": 300, "error_rate": 0.2, "memory_growth_mb_per_s": 5}``. The file's
stat is checked at most every ``check_interval`` seconds (0.5 by default), and parsed only when
its mtime, size or inode changed. A missing file means defaults; an unreadable one keeps the
previous values. Flag values are never logged or exported: they are configuration, and the
service reports only what it does (latency, errors, memory), like any application would.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

log = logging.getLogger(__name__)
MB = 1024 * 1024
Clock = Callable[[], float]


class Flags(BaseModel):
    """The flags a service honours; unknown keys are ignored so services can share one schema."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    extra_latency_ms: float = Field(0.0, ge=0, description="added to every request and message handled")
    error_rate: float = Field(0.0, ge=0, le=1, description="share of requests/messages answered with an error")
    memory_growth_mb_per_s: float = Field(0.0, ge=0, description="memory allocated and held per second")
    dependency_timeout_ms: float = Field(0.0, ge=0, description="outgoing call timeout; 0 = HTTP_TIMEOUT_S")
    purchase_rule: str | None = Field(None, description="policy-service purchase rule override")
    max_policy_premium: float | None = Field(None, gt=0, description="policy-service premium limit override")
    pricing_model: str | None = Field(None, description="quote-service pricing model override")
    journeys_per_second: float | None = Field(None, ge=0, description="traffic generator rate override")


DEFAULT_FLAGS = Flags()


async def apply_request_flags(flags: Flags, rand: Callable[[], float] = random.random) -> None:
    """What a request or message goes through first: added latency, then the configured error share."""
    if flags.extra_latency_ms > 0:
        await asyncio.sleep(flags.extra_latency_ms / 1000)
    if flags.error_rate > 0 and rand() < flags.error_rate:
        raise RuntimeError("request processing failed")


class FlagStore:
    """Current flags from an optional file; cheap to call on every request."""

    def __init__(self, path: Path | None, clock: Clock = time.monotonic, check_interval: float = 0.5) -> None:
        self.path, self.clock, self.check_interval = path, clock, check_interval
        self._flags = DEFAULT_FLAGS
        self._stamp: tuple[int, int, int] | None = None
        self._checked_at: float | None = None

    def current(self) -> Flags:
        """The flags in force, re-reading the file if it changed since the last check."""
        if self.path is None:
            return self._flags
        now = self.clock()
        if self._checked_at is not None and now - self._checked_at < self.check_interval:
            return self._flags
        self._checked_at = now
        self._reload_if_changed(self.path)
        return self._flags

    def _reload_if_changed(self, path: Path) -> None:
        try:
            st = path.stat()
        except FileNotFoundError:
            self._stamp, self._flags = None, DEFAULT_FLAGS
            return
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            raw = json.loads(path.read_text() or "{}")
            self._flags = Flags.model_validate(raw)
        except (OSError, ValueError, ValidationError) as exc:
            # Keep serving with the previous values; a half-written file is retried on the next change.
            log.warning("runtime flags file unreadable, keeping previous values: %s", type(exc).__name__)


class MemoryBallast:
    """Allocates memory at the rate the flag asks for and holds it; releases it when the rate is 0."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self._chunks: list[bytes] = []
        self._last: float | None = None
        self._owed = 0.0

    @property
    def held_bytes(self) -> int:
        return sum(len(c) for c in self._chunks)

    def tick(self, mb_per_s: float) -> int:
        """Allocate what the elapsed time calls for; returns the bytes allocated by this tick."""
        now = self.clock()
        if mb_per_s <= 0:
            self._chunks.clear()
            self._last, self._owed = None, 0.0
            return 0
        if self._last is None:
            self._last = now
            return 0
        self._owed += mb_per_s * MB * max(0.0, now - self._last)
        self._last = now
        size = int(self._owed)
        if size <= 0:
            return 0
        self._owed -= size
        # Non-zero bytes: zero pages may stay unmapped and never show up in RSS.
        self._chunks.append(b"\x5a" * size)
        return size
