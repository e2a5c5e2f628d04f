"""The workflow worker: reads incident work items from Kafka (``sre.incidents``, consumer group
``sre-workflow``) and drives one workflow run per incident.

Flow: a work item is recorded in the run store (``runs.py``) and only then its offset is
committed; the worker drives the unfinished rows of the partitions it is assigned, each under
the row's lease, on a small thread pool (so the consumer keeps polling while a run verifies).
On start, and after every rebalance, it picks up whatever is unfinished on its partitions, so a
run cut by ``kill -9`` resumes from its last checkpoint. Waiting runs are re-checked for the
``approved`` label every ``approval_poll_s``.

``python -m agents.worker`` runs one worker against the stack of ``SRE_SPACE_HOME``.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer
from kafka.errors import KafkaError
from pydantic import ValidationError

from agents.approval import approval_of
from agents.brain.rules import Diagnose, diagnose_by_rule
from agents.fixer.actions import Actions, ControlApiActions
from agents.runs import RUNS_DB, Owner, RunRow, RunState, RunStore
from agents.scout.bus import ensure_topics
from agents.workflow import Progress, WorkflowDeps, WorkflowStopped, build_graph, drive, open_checkpointer
from sre_space.adapters.tracker import Tracker, open_tracker
from sre_space.config import Settings, load_settings
from sre_space.errors import BackendUnavailable, SREError
from sre_space.models.events import INCIDENTS_PARTITIONS, IncidentWorkItem

log = logging.getLogger("sre_space.workflow")
RETRY_AFTER_FAILURE_S = 5.0


def bootstrap_servers(settings: Settings, home: Path) -> str:
    """``KAFKA_BOOTSTRAP_SERVERS``, else the embedded broker of the stack running in ``home``."""
    if settings.kafka_bootstrap_servers:
        return settings.kafka_bootstrap_servers
    from sre_space.stack.launcher import running_state

    state = running_state(home)
    broker = next((c for c in state.components if c.name == "broker" and c.url), None) if state else None
    if broker is None or broker.url is None:
        raise BackendUnavailable("no Kafka: set KAFKA_BOOTSTRAP_SERVERS or start the stack with `sre-space up`")
    return broker.url.removeprefix("kafka://")


def ensure_topic(bootstrap: str, topic: str, partitions: int = INCIDENTS_PARTITIONS) -> None:
    """Create the work-item topic with its partition count unless it exists (never auto-created)."""
    ensure_topics(bootstrap, {topic: partitions})


class Worker:
    """One control-plane worker; compose several (or with Scout) by calling ``run`` in threads."""

    def __init__(
        self,
        settings: Settings,
        home: Path,
        tracker: Tracker,
        actions: Actions,
        diagnose: Diagnose = diagnose_by_rule,
        *,
        bootstrap: str | None = None,
        name: str = "worker",
    ) -> None:
        self.settings, self.home, self.cfg = settings, home, settings.workflow
        self.owner = Owner.here(name)
        self.store = RunStore(home / RUNS_DB)
        self.stats: Counter[str] = Counter()
        self.partitions: frozenset[int] = frozenset()
        self._bootstrap = bootstrap
        self._stopping = threading.Event()
        self._saver = open_checkpointer(home)
        self.deps = WorkflowDeps(tracker, actions, home, self.cfg, diagnose, who=self.owner.id, wait=self._wait,
                                 jaeger_url=settings.jaeger_query_url)
        self.app = build_graph(self.deps, self._saver)

    def _wait(self, seconds: float) -> None:
        if self._stopping.wait(seconds):
            raise WorkflowStopped("the worker is stopping")

    def run(self, stop: threading.Event) -> None:
        """Consume and drive until ``stop`` is set; running graphs stop at their next wait."""
        bootstrap = self._bootstrap or bootstrap_servers(self.settings, self.home)
        ensure_topic(bootstrap, self.cfg.topic)
        consumer = self._consumer(bootstrap)
        pool = ThreadPoolExecutor(max_workers=self.cfg.concurrency, thread_name_prefix="incident")
        inflight: dict[int, Future[None]] = {}
        renew_at = 0.0
        log.info("worker %s consuming %s as group %s", self.owner.id, self.cfg.topic, self.cfg.group)
        try:
            while not stop.is_set():
                try:
                    self._take(consumer, consumer.poll(timeout_ms=200))
                    self.partitions = frozenset(tp.partition for tp in consumer.assignment())
                except KafkaError as exc:  # kafka-python reconnects and rejoins by itself
                    log.warning("kafka: %s", exc)
                    stop.wait(1.0)
                for number in [n for n, fut in inflight.items() if fut.done()]:
                    inflight.pop(number)
                if time.monotonic() >= renew_at:
                    self.store.renew(inflight, self.owner, self.cfg.lease_ttl_s)
                    renew_at = time.monotonic() + self.cfg.lease_ttl_s / 3
                self._dispatch(pool, inflight)
        finally:
            self._stopping.set()
            pool.shutdown(wait=True)
            consumer.close(autocommit=False)
            self._saver.conn.close()
            log.info("worker %s stopped (%s)", self.owner.id, dict(self.stats))

    def _consumer(self, bootstrap: str) -> KafkaConsumer:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap.split(","), group_id=self.cfg.group, client_id=self.owner.id,
            enable_auto_commit=False, auto_offset_reset="earliest", allow_auto_create_topics=False,
            # tansu: the first join takes session_timeout/2; long-poll latency follows fetch_max_wait.
            session_timeout_ms=6000, heartbeat_interval_ms=2000, fetch_max_wait_ms=100, max_poll_records=100,
            request_timeout_ms=30000,
        )
        consumer.subscribe([self.cfg.topic])
        return consumer

    def _take(self, consumer: KafkaConsumer, batch: dict[Any, list[Any]]) -> None:
        """Record every work item of ``batch`` in the run store, then commit the offsets."""
        for tp, records in batch.items():
            for record in records:
                self.stats["received"] += 1
                try:
                    item = IncidentWorkItem.model_validate_json(record.value)
                except (ValidationError, ValueError, TypeError) as exc:
                    self.stats["malformed"] += 1
                    log.warning("skipped a malformed work item at %s:%s: %s", tp.partition, record.offset,
                                str(exc).splitlines()[0])
                    continue
                if self.store.register(item, tp.partition):
                    self.stats["registered"] += 1
        if batch:
            consumer.commit()

    def _dispatch(self, pool: ThreadPoolExecutor, inflight: dict[int, Future[None]]) -> None:
        for row in self.store.runnable(self.partitions):
            if len(inflight) >= self.cfg.concurrency or self._stopping.is_set():
                return
            if row.incident in inflight or not self.store.acquire(row.incident, self.owner, self.cfg.lease_ttl_s):
                continue
            inflight[row.incident] = pool.submit(self._drive, row)

    def _drive(self, row: RunRow) -> None:
        """Drive one incident under its lease; always give the lease back."""
        state, retry_in = RunState.PENDING, 0.0
        try:
            progress = drive(self.app, row.item, row.run, lambda: approval_of(self.deps.tracker, row.incident))
            state = RunState.WAITING if progress == Progress.WAITING else RunState.DONE
            retry_in = self.cfg.approval_poll_s if state == RunState.WAITING else 0.0
            self.stats[state.value] += 1
            log.info("incident #%s run %s: %s", row.incident, row.run, progress.value)
        except WorkflowStopped:
            log.info("incident #%s paused: the worker is stopping", row.incident)
        except Exception:  # noqa: BLE001 - one failing incident must not stop the others
            self.stats["failed"] += 1
            retry_in = RETRY_AFTER_FAILURE_S
            log.exception("incident #%s failed; retrying in %.0f s", row.incident, retry_in)
        finally:
            self.store.release(row.incident, self.owner, state, row.run, retry_in)


def main() -> int:
    """``python -m agents.worker``: one worker on the stack of ``SRE_SPACE_HOME``; SIGTERM stops it."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for chatty in ("kafka", "httpx"):  # their INFO lines drown the workflow's own
        logging.getLogger(chatty).setLevel(logging.WARNING)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        settings = load_settings()
        home = settings.home.resolve()
        worker = Worker(settings, home, open_tracker(settings, home), ControlApiActions(home))
        worker.run(stop)
    except SREError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
