"""Kafka for Scout (kafka-python 3.x): reachability, explicit topic creation, committed offsets of
other groups, and the client settings that work on both tansu and Apache Kafka (DESIGN §8.1:
classic group protocol, ``session_timeout_ms=6000``, ``fetch_max_wait_ms=100``, no
``api_version``). Kafka errors are translated into ``BackendUnavailable`` here.
"""

from __future__ import annotations

import contextlib
import socket

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError

from sre_space.errors import BackendUnavailable

TOPIC_ALREADY_EXISTS = 36
TIMEOUTS = {"request_timeout_ms": 5000, "reconnect_backoff_max_ms": 1000}


def servers(bootstrap: str) -> list[str]:
    return [s.strip() for s in bootstrap.split(",") if s.strip()]


def reachable(bootstrap: str, timeout_s: float = 0.5) -> bool:
    """True when any bootstrap server accepts a TCP connection (cheap, no Kafka request)."""
    for server in servers(bootstrap):
        host, _, port = server.rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s):
                return True
        except (OSError, ValueError):
            continue
    return False


def _admin(bootstrap: str) -> KafkaAdminClient:
    try:
        return KafkaAdminClient(bootstrap_servers=servers(bootstrap), client_id="sre-scout-admin",
                                bootstrap_timeout_ms=2000, **TIMEOUTS)
    except KafkaError as exc:
        raise BackendUnavailable(f"cannot reach Kafka at {bootstrap}: {type(exc).__name__}") from exc


def ensure_topics(bootstrap: str, partitions: dict[str, int]) -> None:
    """Create topics with their partition counts unless they exist (never rely on auto-creation)."""
    admin = _admin(bootstrap)
    try:
        spec = {name: {"num_partitions": n, "replication_factor": 1} for name, n in partitions.items()}
        result = admin.create_topics(spec, raise_errors=False)
    except KafkaError as exc:
        raise BackendUnavailable(f"creating topics on {bootstrap} failed: {type(exc).__name__}") from exc
    finally:
        admin.close()
    for topic in result.get("topics", []):
        if topic["error_code"] not in (0, TOPIC_ALREADY_EXISTS):
            raise BackendUnavailable(f"creating topic {topic['name']} failed: {topic['error_message']}")


class GroupOffsets:
    """Committed offsets of other consumer groups (OffsetFetch works on tansu and Kafka alike)."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self._admin: KafkaAdminClient | None = None

    def committed(self, group: str, topic: str) -> dict[int, int] | None:
        """Partition → committed offset of ``group`` on ``topic``; None when the group has none."""
        try:
            if self._admin is None:
                self._admin = _admin(self.bootstrap)
            offsets = self._admin.list_group_offsets(group).get(group, {})
        except (KafkaError, BackendUnavailable) as exc:
            self.close()
            raise BackendUnavailable(f"committed offsets of {group}: {exc}") from exc
        found = {tp.partition: om.offset for tp, om in offsets.items() if tp.topic == topic and om.offset >= 0}
        return found or None

    def close(self) -> None:
        if self._admin is not None:
            with contextlib.suppress(Exception):  # closing a broken client must not raise
                self._admin.close()
            self._admin = None


def consumer(bootstrap: str, group: str, client_id: str, max_bytes: int) -> KafkaConsumer:
    """A group member reading raw bytes; positions come from Scout's state, not auto-commit."""
    return KafkaConsumer(
        bootstrap_servers=servers(bootstrap), group_id=group, client_id=client_id,
        enable_auto_commit=False, auto_offset_reset="earliest", allow_auto_create_topics=False,
        session_timeout_ms=6000, heartbeat_interval_ms=2000, fetch_max_wait_ms=100,
        max_poll_records=2000, max_partition_fetch_bytes=max(1_048_576, 2 * max_bytes),
        # JoinGroup blocks for the whole rebalance (longer on tansu): a short timeout aborts it.
        request_timeout_ms=30000, bootstrap_timeout_ms=2000, reconnect_backoff_max_ms=1000,
    )


def producer(bootstrap: str, client_id: str) -> KafkaProducer:
    try:
        # No idempotence: an embedded broker forgets producer ids when it restarts.
        return KafkaProducer(bootstrap_servers=servers(bootstrap), client_id=client_id, acks="all",
                             enable_idempotence=False, retries=2, linger_ms=0, max_block_ms=5000,
                             bootstrap_timeout_ms=2000, **TIMEOUTS)
    except KafkaError as exc:
        raise BackendUnavailable(f"cannot reach Kafka at {bootstrap}: {type(exc).__name__}") from exc
