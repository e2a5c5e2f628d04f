"""A Kafka consumer-group member in a thread, handing records to an async handler.

kafka-python is blocking, so polling runs in a thread; each record is handled on the service's
event loop (where its HTTP client, database pool and producer live) inside a CONSUMER span whose
parent is the producer's span from the record headers. After a batch, offsets are committed up
to the first record that asked to be retried (``BusUnavailable``/``PoolTimeout``); that record's
partition is rewound so it comes back. Other handler errors are logged and the record skipped.

The consumer is created once (retried only while the cluster cannot be reached at all) and kept
through outages: kafka-python reconnects and rejoins by itself, and a broker that forgot the
group's offsets sends positions back to the earliest offset. Replacing it would be worse: on
tansu, a member that leaves while its JoinGroup is in flight wedges the group for every later
member (DESIGN §8.1); a JoinGroup that times out does the same, hence the long request timeout.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from kafka import KafkaConsumer, OffsetAndMetadata, TopicPartition
from kafka.errors import CommitFailedError, KafkaError
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from services.common.errors import BusUnavailable, PoolTimeout, ServiceError
from services.common.kafka import CLIENT_TIMEOUTS, bootstrap_list, messaging_attributes
from services.common.metrics import Metrics
from services.common.telemetry import context_from_kafka

log = logging.getLogger(__name__)
Handler = Callable[[Any], Awaitable[None]]
RETRYABLE = (BusUnavailable, PoolTimeout)


class ConsumerWorker:
    """Consumes ``topic`` in group ``group_id`` until ``stop()``; reconnects after broker errors."""

    def __init__(
        self, servers: str, topic: str, group_id: str, handler: Handler, loop: asyncio.AbstractEventLoop,
        metrics: Metrics, *, client_id: str, handler_timeout_s: float = 30.0, retry_backoff_s: float = 1.0,
    ) -> None:
        self.servers, self.topic, self.group_id, self.client_id = servers, topic, group_id, client_id
        self.handler, self.loop, self.metrics = handler, loop, metrics
        self.handler_timeout_s, self.retry_backoff_s = handler_timeout_s, retry_backoff_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"consumer-{topic}", daemon=True)
        self._tracer = trace.get_tracer(__name__)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 3.0) -> None:
        """Ask the loop to finish its batch, leave the group and close (blocking; call from a thread)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _open(self) -> KafkaConsumer:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap_list(self.servers), group_id=self.group_id, client_id=self.client_id,
            enable_auto_commit=False, auto_offset_reset="earliest", allow_auto_create_topics=False,
            session_timeout_ms=6000, heartbeat_interval_ms=2000, fetch_max_wait_ms=100, max_poll_records=100,
            # JoinGroup blocks until the rebalance completes (up to the session timeout and more).
            request_timeout_ms=30000, bootstrap_timeout_ms=CLIENT_TIMEOUTS["bootstrap_timeout_ms"],
            reconnect_backoff_max_ms=CLIENT_TIMEOUTS["reconnect_backoff_max_ms"],
        )
        consumer.subscribe([self.topic])
        return consumer

    def _run(self) -> None:
        consumer: KafkaConsumer | None = None
        try:
            while not self._stop.is_set():
                try:
                    if consumer is None:
                        consumer = self._open()
                    batch = consumer.poll(timeout_ms=200)
                    if batch and self._handle_batch(consumer, batch):
                        self._stop.wait(self.retry_backoff_s)
                except KafkaError as exc:
                    # Keep the consumer: kafka-python reconnects and rejoins by itself.
                    log.warning("consumer error: %s", type(exc).__name__, extra={"topic": self.topic})
                    self._stop.wait(self.retry_backoff_s)
        finally:
            if consumer is not None:
                try:
                    consumer.close(autocommit=False)
                except Exception:  # noqa: BLE001 - the thread is ending either way
                    log.debug("consumer close failed", exc_info=True)

    def _handle_batch(self, consumer: KafkaConsumer, batch: dict[TopicPartition, list[Any]]) -> bool:
        """Handle every record concurrently; commit what is done; True when something must come back."""
        futures = {
            tp: [(r, asyncio.run_coroutine_threadsafe(self._process(r), self.loop)) for r in records]
            for tp, records in batch.items()
        }
        commits: dict[TopicPartition, OffsetAndMetadata] = {}
        retry = False
        deadline = time.monotonic() + self.handler_timeout_s
        for tp, pending in futures.items():
            next_offset = None
            for record, fut in pending:
                try:
                    fut.result(max(0.1, deadline - time.monotonic()))
                except RETRYABLE:
                    next_offset = record.offset if next_offset is None else min(next_offset, record.offset)
                except Exception:  # noqa: BLE001 - already logged inside the span; skip the record
                    pass
            if next_offset is not None:
                retry = True
                consumer.seek(tp, next_offset)
                commits[tp] = OffsetAndMetadata(next_offset, "", -1)
            else:
                commits[tp] = OffsetAndMetadata(pending[-1][0].offset + 1, "", -1)
        try:
            consumer.commit(commits, timeout_ms=5000)
        except CommitFailedError:
            # The group rebalanced under us; the new owner re-reads from the last commit.
            log.warning("offset commit rejected after a rebalance", extra={"topic": self.topic})
        return retry

    async def _process(self, record: Any) -> None:
        self.metrics.consumed.labels(self.topic).inc()
        key = record.key.decode(errors="replace") if record.key else None
        attrs = messaging_attributes(
            "process", self.topic, key,
            **{
                "messaging.consumer.group.name": self.group_id,
                "messaging.destination.partition.id": str(record.partition),
                "messaging.kafka.offset": record.offset,
            },
        )
        with self._tracer.start_as_current_span(
            f"process {self.topic}", context=context_from_kafka(record.headers), kind=SpanKind.CONSUMER,
            attributes=attrs, record_exception=False, set_status_on_exception=False,
        ) as span:
            try:
                await self.handler(record)
            except Exception as exc:
                self.metrics.handling_errors.labels(self.topic, type(exc).__name__).inc()
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                expected = isinstance(exc, ServiceError)  # known conditions need no stack trace
                level = logging.WARNING if expected else logging.ERROR
                log.log(level, "handling a %s record failed: %s", self.topic, exc, exc_info=not expected)
                raise
