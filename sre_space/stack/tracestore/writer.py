"""The ingest thread: group commit of export requests, and retention between writes.

Requests queue up while a transaction runs and the next transaction takes all of them, so a busy
store writes large batches and an idle one answers at once. A request's future resolves after
its commit: once the OTLP receiver has answered 200, the spans are searchable.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from sre_space.stack.tracestore.store import IngestResult, SpanStore

log = logging.getLogger(__name__)

_Item = tuple[ExportTraceServiceRequest, "Future[IngestResult]"]


class Overloaded(Exception):
    """More requests are waiting than the store accepts; the exporter should retry later."""


class WriterThread(threading.Thread):
    """Owns the ``SpanStore``; everything else hands it requests through ``submit``."""

    def __init__(self, store: SpanStore, max_pending: int = 512, max_batch: int = 64) -> None:
        super().__init__(name="tracestore-writer", daemon=True)
        self.store, self.max_batch = store, max_batch
        self._queue: queue.Queue[_Item | None] = queue.Queue(max_pending)
        self._last_retention = 0.0

    def submit(self, request: ExportTraceServiceRequest) -> Future[IngestResult]:
        """Queue a request; the future resolves once it is committed. Raises ``Overloaded``."""
        fut: Future[IngestResult] = Future()
        try:
            self._queue.put_nowait((request, fut))
        except queue.Full as exc:
            raise Overloaded("trace store is busy: too many export requests waiting") from exc
        return fut

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued, then close the store."""
        self._queue.put(None)
        self.join(timeout)

    def run(self) -> None:
        try:
            while self._cycle():
                pass
        finally:
            self.store.close()

    def _cycle(self) -> bool:
        timeout = max(self.store.retention.interval_s - (time.monotonic() - self._last_retention), 0.01)
        try:
            first = self._queue.get(timeout=timeout)
        except queue.Empty:
            self._retain()
            return True
        items, running = [first], first is not None
        while running and len(items) < self.max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            items.append(item)
            running = item is not None
        self._write([i for i in items if i is not None])
        if time.monotonic() - self._last_retention >= self.store.retention.interval_s:
            self._retain()
        return running

    def _write(self, items: list[_Item]) -> None:
        if not items:
            return
        try:
            results = self.store.write([request for request, _ in items])
        except Exception as exc:  # noqa: BLE001 - the exporter gets the error, the thread lives on
            log.exception("trace store: write failed")
            for _, fut in items:
                fut.set_exception(exc)
            return
        for (_, fut), result in zip(items, results, strict=True):
            fut.set_result(result)

    def _retain(self) -> None:
        self._last_retention = time.monotonic()
        try:
            while self.store.enforce_retention() > 0 and self._queue.empty():
                pass
        except Exception:  # noqa: BLE001 - retention retries on the next interval
            log.exception("trace store: retention failed")
