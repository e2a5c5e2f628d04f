"""Which services are related: the call graph from traces (Jaeger's dependencies API) joined with
the fleet's declared ``depends_on`` (which also covers services that had no traced calls yet).
Services the traces name that the fleet does not know are reported, once each."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from agents.scout.symptoms import BROKER, Clock
from sre_space.adapters.traces.jaeger import JaegerQuery
from sre_space.errors import BackendError
from sre_space.models.fleet import FleetSpec

log = logging.getLogger(__name__)
LOOKBACK_S = 900.0


class Topology:
    """A directed call graph: ``caller -> callee``."""

    def __init__(self, edges: Iterable[tuple[str, str]] = ()) -> None:
        self.edges = {(a, b) for a, b in edges if a != b}
        self._callees: dict[str, set[str]] = {}
        for a, b in self.edges:
            self._callees.setdefault(a, set()).add(b)

    @classmethod
    def from_fleet(cls, fleet: FleetSpec | None) -> Topology:
        return cls((s.name, d) for s in (fleet.services if fleet else []) for d in s.depends_on)

    def merged(self, edges: Iterable[tuple[str, str]]) -> Topology:
        return Topology(self.edges | set(edges))

    def callees(self, service: str) -> set[str]:
        """Everything ``service`` calls, directly or not."""
        seen: set[str] = set()
        todo = [service]
        while todo:
            for nxt in self._callees.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        seen.discard(service)
        return seen

    def depends_on(self, service: str, dependency: str) -> bool:
        """``service`` calls ``dependency`` directly or through others."""
        return dependency in self.callees(service)

    def related(self, a: str, b: str) -> bool:
        """Same service, or one is in the other's call path (the broker is related to everyone)."""
        return a == b or BROKER in (a, b) or self.depends_on(a, b) or self.depends_on(b, a)

    def services(self) -> set[str]:
        return {s for edge in self.edges for s in edge}


class TopologySource:
    """Keeps a ``Topology`` fresh from the trace store, falling back to the fleet's declaration."""

    def __init__(self, fleet: Callable[[], FleetSpec | None], trace_url: Callable[[], str | None], clock: Clock,
                 interval_s: float) -> None:
        self._fleet, self._trace_url, self.clock, self.interval_s = fleet, trace_url, clock, interval_s
        self.current = Topology.from_fleet(fleet())
        self.unknown: set[str] = set()
        self._refreshed = float("-inf")

    def get(self) -> Topology:
        now = self.clock()
        if now - self._refreshed >= self.interval_s:
            self._refreshed = now
            self.refresh(now)
        return self.current

    def refresh(self, now: float) -> None:
        fleet = self._fleet()
        base = Topology.from_fleet(fleet)
        url = self._trace_url()
        if not url:
            self.current = base
            return
        try:
            with JaegerQuery(url, timeout=5.0) as query:
                links = query.dependencies(int(now * 1e6), int(LOOKBACK_S * 1e6))
        except BackendError as exc:
            log.info("trace dependencies unavailable (%s); using the fleet's depends_on", exc)
            self.current = base
            return
        edges = {(link.parent, link.child) for link in links}
        known = set(fleet.names()) if fleet else set()
        for name in sorted({s for e in edges for s in e} - known - self.unknown):
            if known:
                log.warning("traces name a service the fleet does not declare: %s", name)
                self.unknown.add(name)
        self.current = base.merged(edges)
