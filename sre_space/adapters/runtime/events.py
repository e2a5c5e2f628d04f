"""A bounded, thread-safe log of runtime events shared by the backends."""

from __future__ import annotations

import threading
from collections import deque
from datetime import UTC, datetime

from sre_space.adapters.runtime.base import RuntimeEvent, RuntimeEventKind


def utcnow() -> datetime:
    """Timezone-aware now, the timestamp of every runtime event."""
    return datetime.now(UTC)


class EventLog:
    """Keeps the last ``capacity`` events, oldest first; readers filter by time."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._events: deque[RuntimeEvent] = deque(maxlen=capacity)
        self._lock = threading.Lock()

    def add(
        self,
        service: str,
        instance: str,
        kind: RuntimeEventKind,
        exit_code: int | None = None,
        detail: str = "",
        time: datetime | None = None,
    ) -> RuntimeEvent:
        event = RuntimeEvent(
            time=time or utcnow(), service=service, instance=instance, kind=kind, exit_code=exit_code, detail=detail
        )
        with self._lock:
            self._events.append(event)
        return event

    def since(self, since: datetime | None = None) -> list[RuntimeEvent]:
        """Events strictly after ``since`` (all when ``None``), oldest first."""
        with self._lock:
            events = list(self._events)
        if since is None:
            return events
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return [e for e in events if e.time > since]
