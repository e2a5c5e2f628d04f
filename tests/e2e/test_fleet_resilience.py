"""InsureCloud under a Kafka outage and with runtime flags, against a broker this module owns.

Timeline: services start with no broker → alive but not ready → broker starts → ready, a quote
becomes a policy → broker stops → still alive, not ready, quotes answer 503 → broker restarts
(empty: tansu keeps nothing) → ready again, topics re-created, a quote becomes a policy again.
Then runtime flags: memory growth shows in RSS; error_rate and extra latency show in responses;
and a malformed record on the quotes topic is counted, skipped, and does not stop the consumer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka import KafkaProducer

from sre_space.net import free_port
from sre_space.stack.broker import EmbeddedBroker
from tests.conftest import ROOT
from tests.e2e.test_fleet_journeys import FORBIDDEN
from tests.helpers import poll_until

NAMES = {"user-service": "user", "quote-service": "quote", "policy-service": "policy"}


class MiniFleet:
    """user, quote and policy services wired to a broker port that may or may not be up."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.broker = EmbeddedBroker(free_port())
        self.ports = {name: free_port() for name in NAMES}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def flags(self, name: str) -> Path:
        return self.home / f"{name}.flags.json"

    def start(self) -> None:
        for name, module in NAMES.items():
            env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "KAFKA_"))}
            env.update(
                SERVICE_NAME=name, PORT=str(self.ports[name]), DATA_DIR=str(self.home / name),
                KAFKA_BOOTSTRAP_SERVERS=self.broker.bootstrap, FLAGS_FILE=str(self.flags(name)),
                USER_SERVICE_URL=self.url("user-service"), USER_COUNT="20", HTTP_RETRIES="0",
            )
            with (self.home / f"{name}.log").open("wb") as out:
                self.procs[name] = subprocess.Popen(
                    [sys.executable, "-m", f"services.{module}"], cwd=ROOT, env=env, stdout=out,
                    stderr=subprocess.STDOUT, start_new_session=True,
                )

    def ready(self, name: str) -> dict[str, Any]:
        proc = self.procs[name]
        assert proc.poll() is None, f"{name} exited with {proc.returncode}"
        resp = httpx.get(self.url(name) + "/ready", timeout=3)
        return {"status": resp.status_code, **resp.json()}

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.broker.stop()


@pytest.fixture(scope="module")
def mini(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MiniFleet]:
    fleet = MiniFleet(tmp_path_factory.mktemp("mini"))
    try:
        fleet.start()
        yield fleet
    finally:
        fleet.stop()


def buy_many(mini: MiniFleet, count: int) -> list[str]:
    """Statuses of ``count`` quotes bought one after the other (spread over the 4 partitions)."""
    return [buy(mini)["status"] for _ in range(count)]


def buy(mini: MiniFleet) -> dict[str, Any]:
    """One quote through quote-service, then policy-service's final answer for it."""
    resp = httpx.post(mini.url("quote-service") + "/quotes", json={"user_id": 3, "product": "home"}, timeout=10)
    assert resp.status_code == 201, resp.text
    quote_id = resp.json()["quote_id"]

    def final() -> dict[str, Any]:
        policy: dict[str, Any] = httpx.get(mini.url("policy-service") + f"/policies/{quote_id}", timeout=3).json()
        return policy if policy["status"] != "pending" else {}

    return poll_until(final, f"policy for quote {quote_id}", timeout=30)


def test_services_survive_a_kafka_outage(mini: MiniFleet) -> None:
    for name in NAMES:
        poll_until(lambda n=name: httpx.get(mini.url(n) + "/health").status_code == 200, f"{name} alive", 60)  # type: ignore[misc]
    for name in ("quote-service", "policy-service"):
        state = mini.ready(name)
        assert state["status"] == 503 and state["checks"]["kafka"] is False, state
    mini.broker.start()
    for name in NAMES:
        poll_until(lambda n=name: mini.ready(n)["status"] == 200, f"{name} ready once Kafka is up", 30)  # type: ignore[misc]
    # Enough quotes that every partition has committed offsets the restarted broker will not know.
    assert buy_many(mini, 8) == ["purchased"] * 8

    mini.broker.stop()
    poll_until(lambda: mini.ready("quote-service")["checks"]["kafka"] is False, "quote-service sees the outage", 15)
    resp = httpx.post(mini.url("quote-service") + "/quotes", json={"user_id": 3, "product": "home"}, timeout=15)
    assert resp.status_code == 503 and resp.json()["kind"] == "BusUnavailable"
    assert all(p.poll() is None for p in mini.procs.values()), "no service crashed"

    mini.broker.start()
    for name in ("quote-service", "policy-service"):
        poll_until(lambda n=name: mini.ready(n)["status"] == 200, f"{name} ready again", 30)  # type: ignore[misc]
    # The broker came back empty: the consumer must start over on the re-created topics.
    assert buy_many(mini, 6) == ["purchased"] * 6


def test_memory_growth_flag_holds_memory(mini: MiniFleet) -> None:
    def rss() -> float:
        for line in httpx.get(mini.url("user-service") + "/metrics").text.splitlines():
            if line.startswith("process_resident_memory_bytes"):
                return float(line.split()[1])
        raise AssertionError("no RSS metric")

    before = rss()
    mini.flags("user-service").write_text(json.dumps({"memory_growth_mb_per_s": 100}))
    try:
        poll_until(lambda: rss() > before + 80 * 2**20, "RSS grew by 80 MB", timeout=20)
    finally:
        mini.flags("user-service").write_text("{}")
    poll_until(lambda: rss() < before + 40 * 2**20, "memory released when the flag is cleared", timeout=20)


def test_error_and_latency_flags(mini: MiniFleet) -> None:
    url = mini.url("user-service") + "/users/1"
    mini.flags("user-service").write_text(json.dumps({"error_rate": 1.0}))
    try:
        poll_until(lambda: httpx.get(url).status_code == 500, "user-service answers 500", timeout=10)
        assert httpx.get(mini.url("user-service") + "/health").status_code == 200  # probes stay honest
        # quote-service (HTTP_RETRIES=0) turns the failing dependency into a 503.
        resp = httpx.post(mini.url("quote-service") + "/quotes", json={"user_id": 3, "product": "auto"}, timeout=10)
        assert resp.status_code == 503 and "user-service" in resp.json()["error"]
        mini.flags("user-service").write_text(json.dumps({"extra_latency_ms": 300}))
        poll_until(lambda: httpx.get(url).elapsed.total_seconds() >= 0.3, "user-service slowed down", timeout=10)
    finally:
        mini.flags("user-service").write_text("{}")
    poll_until(lambda: httpx.get(url).elapsed.total_seconds() < 0.3, "user-service fast again", timeout=10)
    poll_until(lambda: buy(mini)["status"] == "purchased", "purchases work again", timeout=30)
    assert not FORBIDDEN.findall("".join((mini.home / f"{n}.log").read_text() for n in NAMES))


def test_malformed_record_is_counted_and_skipped(mini: MiniFleet) -> None:
    producer = KafkaProducer(bootstrap_servers=mini.broker.bootstrap)
    producer.send("insurecloud.quotes", value=b'{"type": "quote_cancelled"}', key=b"junk").get(10)
    producer.close()

    def errors() -> float:
        text = httpx.get(mini.url("policy-service") + "/metrics").text
        return sum(
            float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line.startswith("kafka_message_errors_total{") and 'error="MalformedEvent"' in line
        )

    poll_until(lambda: errors() == 1, "the malformed record counted", timeout=20)
    assert buy(mini)["status"] == "purchased"  # and the consumer carries on
