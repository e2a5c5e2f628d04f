"""The consume path: a consumer-group member in a thread that counts every record of the
partitions it owns into the shared state (see ``state.py`` for why each event counts once).

Broker trouble never ends the loop: while the bootstrap servers do not answer, the consumer is
closed and ``connected`` is false (the broker detector reports it); when they answer again a fresh
consumer joins, because a restarted embedded broker comes back without topics, offsets or groups.
A topic whose id changed, or a position beyond a partition's high watermark, means the broker
lost its data: the partition starts again at 0.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaConsumer, OffsetAndMetadata, TopicPartition
from kafka.errors import KafkaError

from agents.scout import bus
from agents.scout.detectors.business import Skip, SkipLog, Tally, declared_types
from agents.scout.state import Partition, ScoutState
from agents.scout.symptoms import Clock
from sre_space.errors import BackendUnavailable
from sre_space.models.scout import ScoutSettings

log = logging.getLogger(__name__)
COMMIT_EVERY_S = 1.0
RECHECK_S = 1.0


@dataclass
class IngestStats:
    """What this process's consumer did (reported in Scout's status file)."""

    evaluated: int = 0
    counted: int = 0
    skipped: dict[str, int] = field(default_factory=lambda: dict.fromkeys((s.value for s in Skip), 0))
    fenced_batches: int = 0
    rewinds: int = 0
    batches: int = 0
    connected: bool = False
    assignment: list[str] = field(default_factory=list)
    last_error: str = ""
    reconnects: int = 0


def _cluster(consumer: KafkaConsumer) -> Any:
    """kafka-python's cluster metadata (topic ids included), or None on a client without it."""
    return getattr(getattr(consumer, "_client", None), "cluster", None)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    """Positions come from Scout's state when a partition is assigned (not Kafka's commits)."""

    def __init__(self, ingest: Ingest, consumer: KafkaConsumer) -> None:
        self.ingest, self.consumer = ingest, consumer

    def on_partitions_revoked(self, revoked: Any) -> None:
        return  # every batch is written before the next poll: nothing is in flight here

    def on_partitions_assigned(self, assigned: Any) -> None:
        tps = list(assigned)
        stored = self.ingest.state.positions(self.ingest.group, [(tp.topic, tp.partition) for tp in tps])
        for tp in tps:
            if (tp.topic, tp.partition) in stored:
                self.consumer.seek(tp, stored[(tp.topic, tp.partition)])
        self.ingest.stats.assignment = sorted(f"{tp.topic}[{tp.partition}]" for tp in tps)
        log.info("assigned %s", ", ".join(self.ingest.stats.assignment) or "no partitions")


class Ingest:
    """Consumes Scout's topics in ``cfg.group_id`` until ``stop()``."""

    def __init__(
        self, cfg: ScoutSettings, state: ScoutState, bootstrap: Callable[[], str | None], clock: Clock,
        client_id: str = "sre-scout",
    ) -> None:
        self.cfg, self.state, self._bootstrap, self.clock = cfg, state, bootstrap, clock
        self.group, self.client_id = cfg.group_id, client_id
        self.topics = cfg.topics()
        self.declared = declared_types(cfg.business_slis)
        self.stats = IngestStats()
        self._skip_log = SkipLog()
        self._stop = threading.Event()
        # when someone else (the broker detector) last saw the broker away: a restart may have been
        # too quick for this loop's own check, and the broker may have come back empty
        self.outage_at = 0.0
        self._opened_at = 0.0
        self._thread = threading.Thread(target=self._run, name="scout-ingest", daemon=True)
        self._committed_at = 0.0
        self._topic_ids: dict[str, str] = {}  # topics whose id matches the stored one

    def start(self) -> Ingest:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            bootstrap = self._bootstrap()
            if not bootstrap or not bus.reachable(bootstrap):
                self.stats.connected = False
                self._stop.wait(RECHECK_S)
                continue
            consumer: KafkaConsumer | None = None
            try:
                self._opened_at = self.clock()
                consumer = bus.consumer(bootstrap, self.group, self.client_id, self.cfg.max_message_bytes)
                consumer.subscribe(self.topics, listener=_Rebalance(self, consumer))
                self.stats.connected = True
                self._consume(consumer, bootstrap)
            except (KafkaError, BackendUnavailable) as exc:
                self.stats.last_error = f"{type(exc).__name__}: {exc}"[:200]
                log.warning("Kafka consumer failed, reconnecting: %s", self.stats.last_error)
                self._stop.wait(RECHECK_S)
            finally:
                self.stats.connected = False
                self.stats.assignment = []
                if consumer is not None:
                    self._close(consumer)

    def _consume(self, consumer: KafkaConsumer, bootstrap: str) -> None:
        checked = time.monotonic()
        while not self._stop.is_set():
            batch = consumer.poll(timeout_ms=200)
            disrupted = self.outage_at > self._opened_at  # seen away after this consumer connected
            # A consumer that lived through an outage may have fetched from a broker that came back
            # empty while its metadata (topic ids) still names the old topics: its records are left
            # to the fresh consumer opened below, which tells a topic created again from the old one.
            if batch and not disrupted:
                self.handle(consumer, batch)
            if disrupted or time.monotonic() - checked >= RECHECK_S:
                checked = time.monotonic()
                if disrupted or not bus.reachable(bootstrap):
                    log.warning("Kafka at %s stopped answering; reconnecting", bootstrap)
                    self.stats.reconnects += 1
                    return  # reopen once it answers: it may come back empty
                self._refresh_metadata(consumer)
                self._check_rewind(consumer)

    def handle(self, consumer: KafkaConsumer, batch: dict[TopicPartition, list[Any]]) -> None:
        """Evaluate one poll's records and write counts + positions in one transaction."""
        now = self.clock()
        batch = self._verified(consumer, batch)
        tally = Tally(self.declared, self.cfg.max_message_bytes)
        for tp, records in batch.items():
            tally.add_records(tp.topic, tp.partition, records, now)
        highwaters: dict[Partition, int] = {}
        for tp in consumer.assignment():
            hw = consumer.highwater(tp)
            if hw is not None:
                highwaters[(tp.topic, tp.partition)] = hw
        self._forget_lost(tally, highwaters)
        fenced = self.state.record(self.group, tally.partitions, highwaters, now)
        self._account(tally, fenced)
        for topic, part in fenced:  # someone else counted past us: continue from the stored position
            stored = self.state.positions(self.group, [(topic, part)])
            consumer.seek(TopicPartition(topic, part), stored[(topic, part)])
        self._commit(consumer, tally, set(fenced))

    def _account(self, tally: Tally, fenced: list[Partition]) -> None:
        dropped = sum(tally.partitions[p].evaluated for p in fenced)
        self.stats.batches += 1
        self.stats.fenced_batches += bool(fenced)
        self.stats.evaluated += tally.evaluated - dropped
        self.stats.counted += tally.evaluated - dropped - sum(t.skipped for p, t in tally.partitions.items()
                                                              if p not in fenced)
        for reason, n in tally.skips.items():
            self.stats.skipped[reason.value] += n
        self._skip_log.note(tally)

    def _commit(self, consumer: KafkaConsumer, tally: Tally, fenced: set[Partition]) -> None:
        """Kafka's committed offsets follow Scout's state (best effort, at most once a second)."""
        if time.monotonic() - self._committed_at < COMMIT_EVERY_S:
            return
        self._committed_at = time.monotonic()
        offsets = {TopicPartition(t, p): OffsetAndMetadata(tl.next, "", -1)
                   for (t, p), tl in tally.partitions.items() if (t, p) not in fenced}
        try:
            consumer.commit_async(offsets)
        except KafkaError as exc:
            log.debug("offset commit skipped: %s", exc)

    def _verified(self, consumer: KafkaConsumer, batch: dict[TopicPartition, list[Any]]) -> dict[TopicPartition, Any]:
        """The part of a batch whose topic is the incarnation its stored positions belong to.

        A topic whose id changed (deleted and created again: a broker that restarted empty) has
        its positions reset to 0 and is read again from there; a topic whose id is not known yet
        is read again once the metadata has it. Either way its records are not counted now."""
        cluster = _cluster(consumer)
        if cluster is None or not hasattr(cluster, "topic_id"):
            return batch
        ok: dict[TopicPartition, Any] = {}
        for topic in {tp.topic for tp in batch}:
            parts = {tp: records for tp, records in batch.items() if tp.topic == topic}
            topic_id = cluster.topic_id(topic)
            if topic_id is not None and self._topic_ids.get(topic) == str(topic_id):
                ok.update(parts)
                continue
            if topic_id is None:
                cluster.request_update()
                for tp, records in parts.items():
                    consumer.seek(tp, records[0].offset)
            elif self.state.same_topic(self.group, topic, str(topic_id)):
                self._topic_ids[topic] = str(topic_id)
                ok.update(parts)
            else:
                self._topic_ids[topic] = str(topic_id)
                log.warning("%s was created again (new topic id): counting it from offset 0", topic)
                self.stats.rewinds += 1
                for tp in consumer.assignment():
                    if tp.topic == topic:
                        consumer.seek(tp, 0)
        return ok

    def note_outage(self, at: float) -> None:
        """The broker did not answer at ``at`` (another observer's check): reconnect if that was
        after the current consumer connected."""
        self.outage_at = max(self.outage_at, at)

    @staticmethod
    def _refresh_metadata(consumer: KafkaConsumer) -> None:
        """Ask for fresh metadata (topic ids included) so a topic created again is noticed soon."""
        cluster = _cluster(consumer)
        if cluster is not None and hasattr(cluster, "request_update"):
            cluster.request_update()

    def _forget_lost(self, tally: Tally, highwaters: dict[Partition, int]) -> None:
        """A stored position beyond the high watermark: the broker lost its data (a restarted
        embedded broker) and the consumer was reset to the start; count from there."""
        stored = self.state.positions(self.group, list(tally.partitions))
        for (topic, part), position in stored.items():
            if position > highwaters.get((topic, part), position):
                log.warning("%s[%d]: stored position %d is beyond the high watermark %d (the broker lost its"
                            " data); counting again from %d", topic, part, position, highwaters[(topic, part)],
                            tally.partitions[(topic, part)].first)
                self.state.rewind(self.group, topic, part, tally.partitions[(topic, part)].first)
                self.stats.rewinds += 1

    def _check_rewind(self, consumer: KafkaConsumer) -> None:
        for tp in consumer.assignment():
            hw = consumer.highwater(tp)
            try:
                position = consumer.position(tp, timeout_ms=1000)
            except KafkaError:
                continue
            if hw is not None and position is not None and position > hw:
                log.warning("%s[%d]: position beyond the high watermark %d (the broker lost its data);"
                            " reading it again from 0", tp.topic, tp.partition, hw)
                self.state.rewind(self.group, tp.topic, tp.partition, 0)
                consumer.seek(tp, 0)
                self.stats.rewinds += 1

    def _close(self, consumer: KafkaConsumer) -> None:
        try:
            consumer.close(autocommit=False)
        except Exception:  # noqa: BLE001 - closing a broken consumer must not end the loop
            log.debug("consumer close failed", exc_info=True)
