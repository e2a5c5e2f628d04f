"""Produce and consume through the embedded tansu broker with a consumer group."""

from __future__ import annotations

import uuid

from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient

from tests.helpers import poll_until


def test_produce_consume_with_group(broker: str) -> None:
    topic = f"t-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=broker)
    admin.create_topics({topic: {"num_partitions": 2, "replication_factor": 1}})
    admin.close()
    producer = KafkaProducer(bootstrap_servers=broker)
    for i in range(20):
        producer.send(topic, key=str(i).encode(), value=f"m{i}".encode())
    producer.flush()
    producer.close()
    consumer = KafkaConsumer(
        topic, bootstrap_servers=broker, group_id=f"g-{topic}", auto_offset_reset="earliest",
        session_timeout_ms=6000, fetch_max_wait_ms=100,
    )
    seen: set[bytes] = set()

    def got_all() -> bool:
        for records in consumer.poll(timeout_ms=500).values():
            seen.update(r.value for r in records)
        return len(seen) == 20

    poll_until(got_all, "20 messages consumed through the group", timeout=30)
    consumer.commit()
    consumer.close()
    assert seen == {f"m{i}".encode() for i in range(20)}
