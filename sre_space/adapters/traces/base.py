"""The traces port: how the control plane reads spans.

Backends:
- ``jaeger.py``: Jaeger's v1 HTTP query API. It serves both the embedded trace store
  (``sre_space.stack.tracestore``) and a real Jaeger v2; on Jaeger's ``memory`` storage the
  ``error=true`` tag search finds nothing (a Jaeger bug), badger and the embedded store honour it.

Results come in no guaranteed order from either server; backends return traces newest first and
each trace's spans by start time, so callers never depend on what a server happened to send.
Times are microseconds since the epoch, like ``Span``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from sre_space.models.telemetry import Span


class Trace(BaseModel):
    """One trace: its spans sorted by start time."""

    model_config = ConfigDict(frozen=True)

    trace_id: str
    spans: tuple[Span, ...]

    @property
    def root(self) -> Span | None:
        """The earliest span without a parent in this trace (None if every parent is missing)."""
        ids = {s.span_id for s in self.spans}
        return next((s for s in self.spans if s.parent_id is None or s.parent_id not in ids), None)

    @property
    def services(self) -> frozenset[str]:
        return frozenset(s.service for s in self.spans)

    @property
    def start_us(self) -> int:
        return min((s.start_us for s in self.spans), default=0)


class DependencyLink(BaseModel):
    """Calls from one service to another in a time window."""

    model_config = ConfigDict(frozen=True)

    parent: str
    child: str
    call_count: int = Field(ge=0)


@runtime_checkable
class TraceQuery(Protocol):
    """Reads traces from a trace backend. Errors: ``BackendUnavailable`` (retry later),
    ``BackendRejected`` (the query itself is wrong)."""

    def services(self) -> list[str]:
        """Names of the services that reported spans, sorted."""
        ...

    def operations(self, service: str) -> list[str]:
        """Operation names of a service, sorted."""
        ...

    def find_traces(
        self,
        service: str,
        start_us: int,
        end_us: int,
        operation: str | None = None,
        tags: Mapping[str, str] | None = None,
        min_duration_us: int | None = None,
        max_duration_us: int | None = None,
        limit: int = 20,
    ) -> list[Trace]:
        """Traces with at least one span of ``service`` in [start, end] meeting every condition.

        ``tags`` match span, resource and event attributes as strings; ``{"error": "true"}``
        selects spans whose status is ERROR. Newest first, at most ``limit`` traces.
        """
        ...

    def get_trace(self, trace_id: str) -> Trace | None:
        """One whole trace, or None when the backend does not have it."""
        ...

    def dependencies(self, end_us: int, lookback_us: int) -> list[DependencyLink]:
        """Service-to-service call counts in (end - lookback, end], calls within a service left out."""
        ...

    def check(self) -> None:
        """Raise ``BackendUnavailable`` unless the backend answers."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
