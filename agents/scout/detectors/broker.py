"""The event bus itself: a broker that does not accept connections is a symptom of its own
(``broker:broker_unavailable``, sev 1), which inhibits everything that depends on the bus."""

from __future__ import annotations

from collections.abc import Callable

from agents.scout import bus
from agents.scout.symptoms import BROKER, Check, CheckStatus, Clear, Clock, Detector, Signal, Symptom


class BrokerDetector:
    """TCP reachability of the bootstrap servers, with what the consumer last saw as evidence."""

    detector = Detector.BROKER

    def __init__(self, bootstrap: Callable[[], str | None], consumer_error: Callable[[], str], clock: Clock,
                 reachable: Callable[[str], bool] = bus.reachable, on_outage: Callable[[float], None] = lambda at: None,
                 ) -> None:
        self._bootstrap, self._consumer_error, self.clock, self._reachable = bootstrap, consumer_error, clock, \
            reachable
        self._on_outage = on_outage

    def check(self) -> Check:
        now = self.clock()
        servers = self._bootstrap()
        if not servers:
            return Check(detector=self.detector, at=now, status=CheckStatus.NO_DATA, detail="no broker configured")
        if self._reachable(servers):
            return Check(detector=self.detector, at=now, clears=[Clear(service=BROKER, signal=Signal.BROKER_UNAVAILABLE,
                                                                        at=now)])
        self._on_outage(now)
        symptom = Symptom(
            service=BROKER, signal=Signal.BROKER_UNAVAILABLE, detector=Detector.BROKER, at=now, severity=1,
            summary=f"the Kafka broker at {servers} does not accept connections",
            evidence={"bootstrap": servers, "consumer_error": self._consumer_error()},
        )
        return Check(detector=self.detector, at=now, symptoms=[symptom])
