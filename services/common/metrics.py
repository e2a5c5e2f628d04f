"""RED metrics in Prometheus format, one registry per service process.

Names (all services): ``http_server_requests_total{method,route,status}``,
``http_server_request_duration_seconds{method,route}``, ``http_client_requests_total{peer,outcome}``,
``http_client_request_duration_seconds{peer}``, ``circuit_breaker_open{peer}``,
``kafka_messages_produced_total{topic,type}``, ``kafka_messages_consumed_total{topic}``,
``kafka_message_errors_total{topic,error}``,
``kafka_connected``, ``db_pool_in_use``, plus the standard ``process_*`` collectors (RSS, CPU).
Services add their own through ``Metrics.registry`` (journeys for traffic, quotes, policies).
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The service's metric families, registered on a private registry."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        r = self.registry
        self.requests = Counter(
            "http_server_requests", "HTTP requests served", ["method", "route", "status"], registry=r
        )
        self.request_duration = Histogram(
            "http_server_request_duration_seconds", "HTTP request duration", ["method", "route"],
            buckets=LATENCY_BUCKETS, registry=r,
        )
        self.client_requests = Counter(
            "http_client_requests", "Outgoing HTTP calls by outcome", ["peer", "outcome"], registry=r
        )
        self.client_duration = Histogram(
            "http_client_request_duration_seconds", "Outgoing HTTP call duration", ["peer"],
            buckets=LATENCY_BUCKETS, registry=r,
        )
        self.breaker_open = Gauge("circuit_breaker_open", "1 while the breaker rejects calls", ["peer"], registry=r)
        self.produced = Counter("kafka_messages_produced", "Kafka records produced", ["topic", "type"], registry=r)
        self.consumed = Counter("kafka_messages_consumed", "Kafka records consumed", ["topic"], registry=r)
        self.handling_errors = Counter(
            "kafka_message_errors", "Kafka records whose handling failed (skipped or retried)", ["topic", "error"],
            registry=r,
        )
        self.kafka_connected = Gauge("kafka_connected", "1 while the Kafka cluster is reachable", registry=r)
        self.db_in_use = Gauge("db_pool_in_use", "SQLite connections checked out", registry=r)

    def counter(self, name: str, doc: str, labels: list[str]) -> Counter:
        """A service-specific counter on this registry."""
        return Counter(name, doc, labels, registry=self.registry)

    def histogram(self, name: str, doc: str, labels: list[str]) -> Histogram:
        """A service-specific latency histogram on this registry."""
        return Histogram(name, doc, labels, buckets=LATENCY_BUCKETS, registry=self.registry)

    def render(self) -> bytes:
        """The exposition text for ``/metrics``."""
        return generate_latest(self.registry)
