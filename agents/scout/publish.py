"""Work items for the workflow: ``IncidentWorkItem`` on ``sre.incidents`` (4 partitions, created
explicitly when the publisher connects), keyed by incident number so one partition, and so one
worker, owns an incident at a time.

Nothing is lost while Kafka is away: items wait in order in a bounded queue and go out when the
broker answers again (topics are ensured again then: an embedded broker comes back empty).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

from kafka import KafkaProducer
from kafka.errors import KafkaError

from agents.scout import bus
from sre_space.errors import BackendUnavailable
from sre_space.models.events import INCIDENTS_PARTITIONS, INCIDENTS_TOPIC, IncidentWorkItem

log = logging.getLogger(__name__)
MAX_QUEUED = 10_000
SEND_TIMEOUT_S = 5.0


class WorkPublisher:
    """Publishes work items in order, reconnecting as needed."""

    def __init__(self, bootstrap: Callable[[], str | None], client_id: str = "sre-scout") -> None:
        self._bootstrap, self.client_id = bootstrap, client_id
        self.queue: deque[IncidentWorkItem] = deque(maxlen=MAX_QUEUED)
        self.published = 0
        self._producer: KafkaProducer | None = None

    def connect(self) -> bool:
        """Create the topic (idempotent) and the producer; False while Kafka is unreachable."""
        if self._producer is not None:
            return True
        servers = self._bootstrap()
        if not servers or not bus.reachable(servers):
            return False
        try:
            bus.ensure_topics(servers, {INCIDENTS_TOPIC: INCIDENTS_PARTITIONS})
            self._producer = bus.producer(servers, self.client_id)
        except BackendUnavailable as exc:
            log.warning("work items wait: %s", exc)
            return False
        return True

    def publish(self, item: IncidentWorkItem) -> None:
        if len(self.queue) == self.queue.maxlen:
            log.error("work item queue full: dropping the oldest (incident %s)", self.queue[0].incident)
        self.queue.append(item)
        self.flush()

    def flush(self) -> int:
        """Send what waits, in order; stop at the first failure (the rest waits for next time)."""
        sent = 0
        while self.queue and self.connect():
            item = self.queue[0]
            assert self._producer is not None
            try:
                self._producer.send(INCIDENTS_TOPIC, key=item.key, value=item.model_dump_json().encode()).get(
                    SEND_TIMEOUT_S)
            except KafkaError as exc:
                log.warning("publishing work item for incident %s failed (%s); will retry", item.incident,
                            type(exc).__name__)
                self.close()
                break
            self.queue.popleft()
            sent += 1
            self.published += 1
        return sent

    def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout=2)
            except KafkaError:
                log.debug("producer close failed", exc_info=True)
