"""``sre-space bench scout``: Scout's detection time per detector, its throughput and memory, and
its false positives over a fault-free run.

- Evaluation path: the per-record work (size check, JSON decode, type lookup, bucket count) plus
  the per-batch state transaction, on records already in memory; one thread, CPU time reported.
- Consume path: the same, fed by a real consumer-group member from an embedded broker holding
  ``events`` records produced beforehand (kafka-python's fetch and decode included), until the
  shared state says every record was counted.
- Detection: a private stack (free ports, default traffic) with Scout at default settings in this
  process. A fault-free window first (every incident opened there is a false positive), then a
  stopped service (MTTD: stop → incident with its service label opened) and a bad config change
  that makes policy-service refuse purchases (MTTD: change applied → an incident holding the
  conversion SLI). The ledger's ground truth is read here, by the benchmark, never by Scout.
"""

from __future__ import annotations

import json
import os
import resource
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import psutil
from pydantic import BaseModel

from sre_space.config import Settings

T = TypeVar("T")


class Throughput(BaseModel):
    """One path's figures (nothing is asserted)."""

    events: int
    seconds: float
    cpu_seconds: float
    events_per_second: int
    events_per_cpu_second: int


class ScoutBench(BaseModel):
    evaluation: Throughput
    consume: Throughput | None
    rss_mb: float
    rss_growth_mb: float
    state_db_mb: float
    quiet_seconds: float | None = None
    false_positives: int | None = None
    false_positive_titles: list[str] = []
    mttd_kill_s: float | None = None
    resolve_after_restart_s: float | None = None
    mttd_conversion_s: float | None = None
    conversion_change_s: float | None = None
    notes: list[str] = []


@dataclass
class _Record:
    offset: int
    value: bytes
    timestamp: int


def _events(n: int) -> list[bytes]:
    types = ("quote_requested", "policy_purchased")
    return [json.dumps({"type": types[i % 2], "schema_version": 1, "quote_id": uuid.uuid4().hex, "user_id": i % 500,
                        "product": "home", "premium": 412.5, "time": "2026-01-01T00:00:00Z"}).encode()
            for i in range(n)]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def bench_evaluation(events: int, batch: int = 2000) -> Throughput:
    """Tally + state transaction per batch, records in memory, 8 partitions."""
    from agents.scout.detectors.business import Tally, declared_types
    from agents.scout.state import ScoutState
    from sre_space.models.scout import ScoutSettings

    cfg = ScoutSettings()
    declared = declared_types(cfg.business_slis)
    values = _events(events)
    now_ms = int(time.time() * 1000)
    topics = ("insurecloud.quotes", "insurecloud.policies")
    with tempfile.TemporaryDirectory(prefix="scout-bench-") as tmp:
        state = ScoutState(Path(tmp) / "state.db")
        offsets = [0] * 8
        t0, c0 = time.perf_counter(), _cpu()
        for start in range(0, events, batch):
            tally = Tally(declared, cfg.max_message_bytes)
            chunk = values[start:start + batch]
            per_part = len(chunk) // 8 or 1
            for p in range(8):
                part = chunk[p * per_part:(p + 1) * per_part]
                records = [_Record(offsets[p] + i, v, now_ms) for i, v in enumerate(part)]
                offsets[p] += len(records)
                tally.add_records(topics[p % 2], p // 2, records, now_ms / 1000)
            state.record("bench", tally.partitions, {}, now_ms / 1000)
        seconds, cpu = time.perf_counter() - t0, _cpu() - c0
        counted = state.totals("bench")[0]
        state.close()
    return Throughput(events=counted, seconds=round(seconds, 3), cpu_seconds=round(cpu, 3),
                      events_per_second=round(counted / seconds), events_per_cpu_second=round(counted / max(cpu, 1e-9)))


def bench_consume(events: int) -> Throughput:
    """Produce ``events`` to an embedded broker, then time one Ingest member counting them all."""
    from kafka import KafkaProducer

    from agents.scout import bus
    from agents.scout.ingest import Ingest
    from agents.scout.state import ScoutState
    from sre_space.models.scout import ScoutSettings
    from sre_space.net import free_port
    from sre_space.stack.broker import EmbeddedBroker

    cfg = ScoutSettings(group_id=f"bench-{uuid.uuid4().hex[:8]}")
    with EmbeddedBroker(free_port()) as broker, tempfile.TemporaryDirectory(prefix="scout-bench-") as tmp:
        bus.ensure_topics(broker.bootstrap, {t: 4 for t in cfg.topics()})
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=20, batch_size=262_144)
        values = _events(events)
        for i, value in enumerate(values):
            producer.send(cfg.topics()[i % 2], key=str(i).encode(), value=value)
        producer.flush(120)
        producer.close()
        state = ScoutState(Path(tmp) / "state.db")
        ingest = Ingest(cfg, state, lambda: broker.bootstrap, time.time, client_id="bench")
        ingest.start()
        while not ingest.stats.assignment:  # the first group join (3 s on tansu) is not throughput
            time.sleep(0.05)
        t0, c0 = time.perf_counter(), _cpu()
        deadline = t0 + 600
        while state.totals(cfg.group_id)[0] < events and time.perf_counter() < deadline:
            time.sleep(0.02)
        seconds, cpu = time.perf_counter() - t0, _cpu() - c0
        ingest.stop()
        counted = state.totals(cfg.group_id)[0]
        state.close()
    return Throughput(events=counted, seconds=round(seconds, 3), cpu_seconds=round(cpu, 3),
                      events_per_second=round(counted / seconds), events_per_cpu_second=round(counted / max(cpu, 1e-9)))


def bench_detection(settings: Settings, quiet_seconds: float, result: ScoutBench) -> None:
    """MTTD per detector and false positives on a private stack with default traffic."""
    from agents.scout.service import Scout
    from chaos.injectors import inject, revert
    from sre_space.adapters.tracker.local import LocalTracker
    from sre_space.models.incident import fingerprint_label, parse_post
    from sre_space.stack import launcher

    home = Path(tempfile.mkdtemp(prefix="sre-bench-scout-"))
    # the stack's own control plane stays off: the Scout measured here is the only one
    private = settings.model_copy(update={"home": home, "agents": False,
                                          "ports": settings.ports.model_copy(update={"auto": True})})
    launcher.up(private, out=lambda _line: None)
    tracker = LocalTracker(home / "tracker.db")
    scout = Scout(private, home, tracker)
    stop = threading.Event()
    thread = threading.Thread(target=scout.run, args=(stop,), daemon=True)
    thread.start()
    try:
        _wait(lambda: scout.checks.get("business", {}).get("status") == "ok", 120)
        time.sleep(quiet_seconds)  # the fault-free measurement window
        quiet = tracker.list_issues("all", ["incident"])
        result.quiet_seconds, result.false_positives = quiet_seconds, len(quiet)
        result.false_positive_titles = [i.title for i in quiet]
        known = {i.number for i in quiet}

        t0 = time.time()
        launcher.control(home, "POST", "/services/user-service/stop")
        found = _wait(lambda: next((i for i in tracker.list_issues("open", ["service:user-service"])
                                    if i.number not in known), None), 60)
        if found is not None:
            result.mttd_kill_s = round(found.created_at.timestamp() - t0, 2)
            t1 = time.time()
            launcher.control(home, "POST", "/services/user-service/start")
            if _wait(lambda: tracker.get_issue(found.number).state.value == "closed", 180):
                result.resolve_after_restart_s = round(time.time() - t1, 1)
        _wait(lambda: not tracker.list_issues("open", ["incident"]), 180)

        known = {i.number for i in tracker.list_issues("all", ["incident"])}
        label = fingerprint_label("policy-service:sli.conversion")
        t0 = time.time()
        entry = inject(home, "bad-config")
        applied = time.time()
        result.conversion_change_s = round(applied - t0, 2)
        hit = _wait(lambda: next((i for i in tracker.list_issues("open", [label]) if i.number not in known), None), 120)
        post = parse_post(hit.body) if hit is not None else None
        if post is not None:
            # the SLI may join an incident opened a moment earlier (the restart): time its own first sighting
            first = post.data["fingerprints"]["policy-service:sli.conversion"]["first"]
            result.mttd_conversion_s = round(first - applied, 2)
        revert(home, entry)
    finally:
        stop.set()
        thread.join(30)
        launcher.stop_daemon(home)
    result.notes.append(f"detection run in {home} (logs kept)")


def _wait(fn: Callable[[], T], timeout: float) -> T | None:
    """Poll until ``fn`` is truthy (the benchmark records a miss instead of failing)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.1)
    return None


def run(settings: Settings, events: int = 100_000, consume: bool = True, detection: bool = True,
        quiet_seconds: float = 60.0) -> ScoutBench:
    """Measure everything asked for; slow parts can be left out."""
    proc = psutil.Process(os.getpid())
    rss0 = proc.memory_info().rss
    evaluation = bench_evaluation(events)
    consumed = bench_consume(events) if consume else None
    rss = proc.memory_info().rss
    result = ScoutBench(evaluation=evaluation, consume=consumed, rss_mb=round(rss / 2**20, 1),
                        rss_growth_mb=round((rss - rss0) / 2**20, 1), state_db_mb=0.0)
    with tempfile.TemporaryDirectory() as tmp:  # the state file after one hour of demo traffic, estimated
        result.state_db_mb = _state_size(Path(tmp))
    if detection:
        bench_detection(settings, quiet_seconds, result)
    return result


def _state_size(tmp: Path) -> float:
    """Size of the state file holding one hour of per-second counts for 3 event types on 2 topics."""
    from agents.scout.state import PartitionTally, ScoutState

    state = ScoutState(tmp / "state.db")
    now = int(time.time())
    for topic in ("insurecloud.quotes", "insurecloud.policies"):
        types = ("quote_requested", "policy_purchased", "policy_failed")
        counts = {(now - s, t): 2 for s in range(3600) for t in types}
        state.record("size", {(topic, 0): PartitionTally(0, 1, counts, 1)}, {}, now)
    state.close()
    return round(sum(p.stat().st_size for p in tmp.iterdir()) / 2**20, 2)


def render(result: ScoutBench) -> str:
    ev, co = result.evaluation, result.consume
    lines = [
        f"evaluation path:        {ev.events_per_second:,} events/s wall, {ev.events_per_cpu_second:,} per CPU-second"
        f" ({ev.events} events, 1 thread)",
    ]
    if co is not None:
        lines.append(f"consume + evaluate:     {co.events_per_second:,} events/s wall, "
                     f"{co.events_per_cpu_second:,} per CPU-second ({co.events} events from the embedded broker)")
    lines += [
        f"memory:                 RSS {result.rss_mb:.0f} MB (+{result.rss_growth_mb:.0f} MB during the runs); "
        f"state file for 1 h of counts ~{result.state_db_mb} MB",
    ]
    if result.false_positives is not None:
        lines += [
            f"false positives:        {result.false_positives} incident(s) in {result.quiet_seconds:g} s fault-free"
            + (f" {result.false_positive_titles}" if result.false_positive_titles else ""),
            f"MTTD crash (stop):      {_s(result.mttd_kill_s)} (stop → incident with service:user-service)",
            f"auto-resolve:           {_s(result.resolve_after_restart_s)} after the restart",
            f"MTTD conversion drop:   {_s(result.mttd_conversion_s)} after the change was applied "
            f"(applying it, a restart, took {_s(result.conversion_change_s)})",
        ]
    lines += result.notes
    return "\n".join(lines)


def _s(value: float | None) -> str:
    return "not detected" if value is None else f"{value:.1f} s"

