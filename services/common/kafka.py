"""Kafka for the fleet (kafka-python 3.x): topics and a traced producer.

``EventBus`` owns the producer. A periodic check (every ``check_interval_s``) tests that the
cluster is reachable; when it (re)appears, topics are created explicitly with their partition
counts (idempotent: "already exists" is fine; never rely on auto-creation) and a producer is
built. While the cluster is away, ``ready`` is false and ``publish`` fails fast with
``BusUnavailable``; nothing crashes. ``publish`` runs in a PRODUCER span (messaging attributes)
and puts the W3C ``traceparent`` in the record headers. The consumer side is consumer.py.
No ``api_version`` is set anywhere: kafka-python negotiates it (DESIGN §8.1).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from services.common.errors import BusUnavailable
from services.common.events import TOPIC_PARTITIONS, BusinessEvent, encode
from services.common.metrics import Metrics
from services.common.telemetry import kafka_headers

log = logging.getLogger(__name__)
ALREADY_EXISTS = 36  # Kafka error code TOPIC_ALREADY_EXISTS
CLIENT_TIMEOUTS = {"bootstrap_timeout_ms": 2000, "request_timeout_ms": 5000, "reconnect_backoff_max_ms": 1000}


def bootstrap_list(servers: str) -> list[str]:
    return [s.strip() for s in servers.split(",") if s.strip()]


def cluster_reachable(servers: str, timeout_s: float = 0.5) -> bool:
    """True when any bootstrap server accepts a TCP connection (cheap; no Kafka request)."""
    for server in bootstrap_list(servers):
        host, _, port = server.rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s):
                return True
        except (OSError, ValueError):
            continue
    return False


def ensure_topics(servers: str, partitions: dict[str, int], client_id: str = "insurecloud-admin") -> None:
    """Create the topics with their partition counts unless they exist (never rely on auto-creation)."""
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap_list(servers), client_id=client_id, **CLIENT_TIMEOUTS)
    except KafkaError as exc:
        raise BusUnavailable(f"cannot reach Kafka at {servers}: {exc}") from exc
    try:
        spec = {name: {"num_partitions": n, "replication_factor": 1} for name, n in partitions.items()}
        result = admin.create_topics(spec, raise_errors=False)
    except KafkaError as exc:
        raise BusUnavailable(f"creating topics failed: {exc}") from exc
    finally:
        admin.close()
    for topic in result.get("topics", []):
        if topic["error_code"] not in (0, ALREADY_EXISTS):
            raise BusUnavailable(f"creating topic {topic['name']} failed: {topic['error_message']}")


def messaging_attributes(operation: str, topic: str, key: str | None = None, **extra: Any) -> dict[str, Any]:
    """OpenTelemetry messaging attributes for a Kafka span."""
    attrs: dict[str, Any] = {
        "messaging.system": "kafka",
        "messaging.operation.type": operation,
        "messaging.operation.name": operation,
        "messaging.destination.name": topic,
    }
    if key is not None:
        attrs["messaging.kafka.message.key"] = key
    attrs.update({k: v for k, v in extra.items() if v is not None})
    return attrs


class EventBus:
    """The service's Kafka producer with readiness tracking and reconnection."""

    def __init__(
        self, servers: str, metrics: Metrics, *, client_id: str, send_timeout_s: float = 5.0,
        topics: dict[str, int] | None = None, check_interval_s: float = 2.0,
    ) -> None:
        self.servers, self.metrics, self.client_id = servers, metrics, client_id
        self.send_timeout_s, self.check_interval_s = send_timeout_s, check_interval_s
        self.topics = TOPIC_PARTITIONS if topics is None else topics
        self.ready = False
        self._producer: KafkaProducer | None = None
        self._tracer = trace.get_tracer(__name__)

    def _connect(self) -> None:
        ensure_topics(self.servers, self.topics, f"{self.client_id}-admin")
        if self._producer is None:
            try:
                # No idempotence: an embedded broker forgets producer ids when it restarts.
                self._producer = KafkaProducer(
                    bootstrap_servers=bootstrap_list(self.servers), client_id=self.client_id, acks="all",
                    enable_idempotence=False, retries=2, linger_ms=0,
                    max_block_ms=int(self.send_timeout_s * 1000), **CLIENT_TIMEOUTS,
                )
            except KafkaError as exc:
                raise BusUnavailable(f"cannot reach Kafka at {self.servers}: {exc}") from exc

    async def check(self) -> bool:
        """Re-check reachability; on (re)appearance create topics and the producer."""
        reachable = await asyncio.to_thread(cluster_reachable, self.servers)
        if reachable and not self.ready:
            try:
                await asyncio.to_thread(self._connect)
                self.ready = True
                log.info("connected to Kafka", extra={"bootstrap": self.servers})
            except BusUnavailable as exc:
                log.warning("Kafka not ready: %s", exc)
        elif not reachable and self.ready:
            self.ready = False
            log.warning("lost Kafka connection", extra={"bootstrap": self.servers})
        self.metrics.kafka_connected.set(int(self.ready))
        return self.ready

    async def publish(self, topic: str, event: BusinessEvent, key: str) -> None:
        """Send one event and wait for the acknowledgement, inside a PRODUCER span."""
        value = encode(event)
        etype = getattr(event, "type", "unknown")
        attrs = messaging_attributes("send", topic, key, **{"messaging.message.body.size": len(value)})
        attrs["insurecloud.event.type"] = etype
        with self._tracer.start_as_current_span(f"send {topic}", kind=SpanKind.PRODUCER, attributes=attrs) as span:
            producer = self._producer
            if not self.ready or producer is None:
                raise BusUnavailable("Kafka is unreachable")
            headers = kafka_headers()
            try:
                meta = await asyncio.to_thread(self._send, producer, topic, key, value, headers)
            except KafkaError as exc:
                self.ready = False  # the watcher re-creates topics when the cluster answers again
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise BusUnavailable(f"publish to {topic} failed: {type(exc).__name__}") from exc
            span.set_attribute("messaging.destination.partition.id", str(meta.partition))
            span.set_attribute("messaging.kafka.offset", meta.offset)
        self.metrics.produced.labels(topic, etype).inc()

    def _send(self, producer: KafkaProducer, topic: str, key: str, value: bytes, headers: list[Any]) -> Any:
        return producer.send(topic, value=value, key=key.encode(), headers=headers).get(self.send_timeout_s)

    def close(self, timeout_s: float = 2.0) -> None:
        """Flush and close the producer (bounded)."""
        producer, self._producer, self.ready = self._producer, None, False
        if producer is not None:
            producer.close(timeout=timeout_s)
