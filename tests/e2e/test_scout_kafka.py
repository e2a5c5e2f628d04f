"""Scout's Kafka side against a real (embedded) broker: garbage on the topics does not stop
detection; two Scout processes in one consumer group split the partitions and evaluate every
event exactly once, also when one of them leaves; a broker outage is an incident, and Scout
reconnects and counts the events of the broker that came back empty. Topics and groups carry a run id (a tansu group
can wedge when reused, DESIGN §8.1)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer

from agents.scout import bus
from agents.scout.service import Scout
from agents.scout.state import ScoutState
from sre_space.adapters.tracker.local import LocalTracker
from sre_space.config import Settings
from sre_space.models.events import INCIDENTS_TOPIC
from sre_space.models.incident import fingerprint_label
from sre_space.models.scout import BusinessSLI, ScoutSettings
from sre_space.net import free_port
from sre_space.stack.broker import EmbeddedBroker
from tests.conftest import ROOT
from tests.helpers import poll_until


def scout_settings(run: str) -> ScoutSettings:
    """Default Scout settings on this run's own topics and group."""
    quotes, policies = f"quotes-{run}", f"policies-{run}"
    return ScoutSettings(
        group_id=f"scout-{run}", consumer_groups=[],
        business_slis=[
            BusinessSLI(name="conversion", service="policy-service", topics=[quotes, policies],
                        good=["policy_purchased"], total=["quote_requested"], min_good_ratio=0.8),
        ],
    )


def produce(broker: str, topic: str, values: list[bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=broker, linger_ms=5)
    try:
        for value in values:
            producer.send(topic, key=uuid.uuid4().hex.encode(), value=value)
        producer.flush(30)
    finally:
        producer.close()


def event(etype: str) -> bytes:
    return json.dumps({"type": etype, "schema_version": 1, "quote_id": uuid.uuid4().hex, "user_id": 1,
                       "product": "home", "premium": 400.0}).encode()


GARBAGE = [b"\x00\x01 not json", b"[1, 2, 3]", b'{"kind": "quote_requested"}', b'{"type": 7}',
           json.dumps({"type": "quote_requested", "pad": "x" * 100_000}).encode()]


@pytest.fixture
def run_id() -> str:
    return uuid.uuid4().hex[:8]


def test_garbage_on_the_topics_does_not_stop_detection(broker: str, run_id: str, tmp_path: Path) -> None:
    cfg = scout_settings(run_id)
    quotes, policies = cfg.business_slis[0].topics
    bus.ensure_topics(broker, {quotes: 4, policies: 4})
    settings = Settings(home=tmp_path, kafka_bootstrap_servers=broker, fleet_file=ROOT / "deploy" / "fleet.yaml",
                        scout=cfg)
    tracker = LocalTracker(tmp_path / "tracker.db")
    scout = Scout(settings, tmp_path, tracker)
    stop = threading.Event()
    thread = threading.Thread(target=scout.run, args=(stop,))
    thread.start()
    started = time.time()
    try:
        poll_until(lambda: len(scout.ingest.stats.assignment) == 8, "Scout owns all 8 partitions", timeout=30)
        # garbage first, spread over both topics' partitions, then a conversion collapse
        produce(broker, quotes, GARBAGE * 8 + [event("quote_requested") for _ in range(40)])
        produce(broker, policies, GARBAGE * 8 + [event("policy_failed") for _ in range(40)])
        label = fingerprint_label("policy-service:sli.conversion")
        issue = poll_until(lambda: next(iter(tracker.list_issues("open", [label])), None),
                           "a conversion incident despite the garbage", timeout=60)
        assert issue is not None and "service:policy-service" in issue.labels
        skipped = scout.ingest.stats.skipped
        assert skipped["malformed"] == 2 * 8 * 4 and skipped["oversized"] == 2 * 8
        assert skipped["undeclared"] == 40  # policy_failed: well formed, but this SLI does not count it
        assert scout.ingest.alive and scout.ingest.stats.counted == 40
        poll_until(lambda: scout.publisher.published >= 1, "the work item published", timeout=30)
    finally:
        stop.set()
        thread.join(30)
    assert issue is not None and work_item(broker, run_id, issue.number, started)["kind"] == "opened"


def work_item(broker: str, run: str, number: int, since: float) -> dict[str, Any]:
    """The conversion work item for ``number`` on sre.incidents (the topic is shared by the session)."""
    consumer = KafkaConsumer(INCIDENTS_TOPIC, bootstrap_servers=broker, group_id=f"reader-{run}",
                             auto_offset_reset="earliest", session_timeout_ms=6000, fetch_max_wait_ms=100,
                             consumer_timeout_ms=15000)
    try:
        for record in consumer:
            item = json.loads(record.value)
            if item["incident"] == number and item["fingerprint"] == "policy-service:sli.conversion" \
                    and record.timestamp / 1000 >= since - 1:
                assert record.key == str(number).encode()
                return dict(item)
    finally:
        consumer.close()
    raise AssertionError(f"no work item for incident {number} on {INCIDENTS_TOPIC}")


class ScoutProcess:
    """``python -m agents.scout`` with this run's settings, stopped by PID."""

    def __init__(self, home: Path, broker: str, cfg: ScoutSettings, name: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SRE_", "KAFKA_"))}
        env.update(SRE_SPACE_HOME=str(home), KAFKA_BOOTSTRAP_SERVERS=broker,
                   SRE_FLEET_FILE=str(ROOT / "deploy" / "fleet.yaml"),
                   SRE_SCOUT__GROUP_ID=cfg.group_id, SRE_SCOUT__CONSUMER_GROUPS="[]",
                   SRE_SCOUT__BUSINESS_SLIS=json.dumps([s.model_dump() for s in cfg.business_slis]))
        self.log = home / f"{name}.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "agents.scout"], cwd=ROOT, env=env, stdout=out,
                                         stderr=subprocess.STDOUT)
        self.status_file = home / "scout" / f"status-{self.proc.pid}.json"

    def status(self) -> dict[str, Any]:
        assert self.proc.poll() is None, f"Scout exited: {self.log.read_text()[-2000:]}"
        try:
            return dict(json.loads(self.status_file.read_text()))
        except (OSError, ValueError):
            return {}

    def assignment(self) -> set[str]:
        return set(self.status().get("ingest", {}).get("assignment", []))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
def two_scouts(broker: str, run_id: str, tmp_path: Path) -> Iterator[tuple[ScoutSettings, list[ScoutProcess]]]:
    cfg = scout_settings(run_id)
    bus.ensure_topics(broker, {t: 4 for t in cfg.business_slis[0].topics})
    procs = [ScoutProcess(tmp_path, broker, cfg, "a")]
    try:
        poll_until(lambda: len(procs[0].assignment()) == 8, "the first Scout owns every partition", timeout=40)
        procs.append(ScoutProcess(tmp_path, broker, cfg, "b"))
        yield cfg, procs
    finally:
        for proc in procs:  # one at a time: a tansu group can wedge if its last two members leave at once
            proc.stop()


def test_two_scouts_split_the_partitions_and_count_every_event_once(
    broker: str, two_scouts: tuple[ScoutSettings, list[ScoutProcess]], tmp_path: Path
) -> None:
    cfg, (a, b) = two_scouts
    quotes, policies = cfg.business_slis[0].topics

    def split() -> bool:
        mine, theirs = a.assignment(), b.assignment()
        return bool(mine) and bool(theirs) and not mine & theirs and len(mine | theirs) == 8

    poll_until(split, "two Scouts own disjoint halves of the 8 partitions", timeout=60)
    produce(broker, quotes, [event("quote_requested") for _ in range(1000)])
    produce(broker, policies, [event("policy_purchased") for _ in range(1000)])
    state = ScoutState(tmp_path / "scout" / "state.db")
    poll_until(lambda: state.totals(cfg.group_id) == (2000, 0), "2000 events evaluated", timeout=60)
    def per_process() -> list[int]:  # from the status files, written every tick
        return [p.status().get("ingest", {}).get("evaluated", 0) for p in (a, b)]

    poll_until(lambda: sum(per_process()) == 2000, "both status files report the 2000 events", timeout=10)
    assert min(per_process()) > 0  # both worked, neither counted anything twice
    assert sum(state.type_counts([quotes, policies], 0, 2**40).values()) == 2000

    a.stop()  # the survivor takes every partition over from the shared positions
    poll_until(lambda: len(b.assignment()) == 8, "the survivor owns all partitions", timeout=60)
    produce(broker, quotes, [event("quote_requested") for _ in range(500)])
    poll_until(lambda: state.totals(cfg.group_id)[0] >= 2500, "the new events evaluated", timeout=60)
    assert state.totals(cfg.group_id) == (2500, 0)
    assert state.type_counts([quotes], 0, 2**40) == {"quote_requested": 1500}


def test_broker_outage_is_reported_and_scout_reconnects(run_id: str, tmp_path: Path) -> None:
    port = free_port()
    broker = EmbeddedBroker(port).start()
    cfg = scout_settings(run_id)
    quotes, policies = cfg.business_slis[0].topics
    bus.ensure_topics(broker.bootstrap, {quotes: 4, policies: 4})
    settings = Settings(home=tmp_path, kafka_bootstrap_servers=broker.bootstrap,
                        fleet_file=ROOT / "deploy" / "fleet.yaml", scout=cfg)
    tracker = LocalTracker(tmp_path / "tracker.db")
    scout = Scout(settings, tmp_path, tracker)
    stop = threading.Event()
    thread = threading.Thread(target=scout.run, args=(stop,))
    thread.start()
    state = ScoutState(tmp_path / "scout" / "state.db")
    try:
        poll_until(lambda: len(scout.ingest.stats.assignment) == 8, "Scout owns all 8 partitions", timeout=30)
        produce(broker.bootstrap, quotes, [event("quote_requested") for _ in range(20)])
        produce(broker.bootstrap, policies, [event("policy_purchased") for _ in range(20)])
        poll_until(lambda: state.totals(cfg.group_id)[0] == 40, "40 events counted", timeout=30)

        broker.stop()
        outage = poll_until(lambda: next(iter(tracker.list_issues("open", ["service:broker"])), None),
                            "an incident for the broker outage", timeout=30)
        assert outage is not None and fingerprint_label("broker:broker_unavailable") in outage.labels

        broker = EmbeddedBroker(port).start()  # an embedded broker comes back empty
        bus.ensure_topics(broker.bootstrap, {quotes: 4, policies: 4})  # as the fleet does on reconnection
        poll_until(lambda: len(scout.ingest.stats.assignment) == 8, "Scout reconnected", timeout=60)
        produce(broker.bootstrap, quotes, [event("quote_requested") for _ in range(40)])
        produce(broker.bootstrap, policies, [event("policy_purchased") for _ in range(40)])
        poll_until(lambda: state.totals(cfg.group_id)[0] == 120, "the new broker's 80 events counted, from 0",
                   timeout=30)
        poll_until(lambda: tracker.get_issue(outage.number).state.value == "closed", "the outage resolved",
                   timeout=30)
    finally:
        stop.set()
        thread.join(30)
        broker.stop()
