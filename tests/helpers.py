"""Shared test helpers: wait with a reason, never sleep blindly."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def poll_until(fn: Callable[[], T], reason: str, timeout: float = 30.0, interval: float = 0.1) -> T:
    """Call ``fn`` until it returns a truthy value; fail with the reason and the last value seen."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            last = fn()
            if last:
                return last  # type: ignore[return-value]
        except Exception as exc:  # noqa: BLE001 - keep polling; report the last failure
            last = exc
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for: {reason} (last seen: {last!r})")
        time.sleep(interval)
