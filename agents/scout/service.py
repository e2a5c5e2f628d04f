"""The Scout loop: every process counts the Kafka partitions it owns; one leader per state
directory runs the checks, the pipeline and the tracker.

Scale-out (issue 3, item 5): Scout processes share a consumer group, so Kafka splits the
partitions between them and each event is counted by exactly one process (``state.py`` explains
the transaction and the fencing that make it exactly once across rebalances). Verdicts need the
whole picture, so only the holder of the leader lock (``<home>/scout/leader.lock``) evaluates the
SLIs over every partition's counts, polls health, RED and SLOs and writes incidents; the others
stand by and take over within a tick when it dies (the kernel releases its lock). A new leader
rebuilds its book of incidents from the tracker before it decides anything.

Each process writes ``<home>/scout/status-<name>.json`` (name: the pid by default) every tick:
role, partitions, counters, checks, open incidents and recent decisions, for people and tests.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any, Protocol

from agents.scout.book import IncidentBook
from agents.scout.bus import GroupOffsets
from agents.scout.detectors.broker import BrokerDetector
from agents.scout.detectors.business import BusinessDetector
from agents.scout.detectors.health import HealthDetector
from agents.scout.detectors.red import RedDetector
from agents.scout.detectors.slo import SloDetector
from agents.scout.incidents import IncidentDesk
from agents.scout.ingest import Ingest
from agents.scout.pipeline import Pipeline
from agents.scout.publish import WorkPublisher
from agents.scout.sources import StackSources
from agents.scout.state import LeaderLock, ScoutState
from agents.scout.symptoms import BROKER, Check, CheckStatus, Clock, wall_clock
from agents.scout.topology import TopologySource
from sre_space.adapters.tracker.base import Tracker, TrackerUnavailable
from sre_space.config import Settings

log = logging.getLogger(__name__)
PRUNE_EVERY_S = 60.0


class Detector(Protocol):
    def check(self) -> Check: ...


def scout_dir(home: Path) -> Path:
    return home / "scout"


class Scout:
    """Detect, deduplicate, open and resolve incidents for the stack in ``home``."""

    def __init__(
        self, settings: Settings, home: Path, tracker: Tracker, *, clock: Clock = wall_clock,
        sources: StackSources | None = None, publisher: WorkPublisher | None = None, name: str | None = None,
    ) -> None:
        self.cfg = cfg = settings.scout
        self.home = home.resolve()
        self.dir = scout_dir(self.home)
        self.clock = clock
        self.name = name or str(os.getpid())
        self.sources = src = sources or StackSources(settings, self.home, cfg.probe_timeout_s)
        self.state = ScoutState(self.dir / "state.db")
        self.leader = LeaderLock(self.dir / "leader.lock")
        self.ingest = Ingest(cfg, self.state, src.kafka_bootstrap, clock, client_id=f"sre-scout-{self.name}")
        self.topology = TopologySource(src.fleet, src.trace_url, clock, cfg.topology_interval_s)
        self.book = IncidentBook()
        self.pipeline = Pipeline(cfg, self.book, self.topology.get, self.known_services)
        self.publisher = publisher if publisher is not None else WorkPublisher(src.kafka_bootstrap)
        self.desk = IncidentDesk(tracker, self.book, self.publisher, clock)
        self._offsets: GroupOffsets | None = None
        red = RedDetector(cfg.red, src.service_urls, src.scrape_all, clock)
        self.fast: list[Detector] = [
            BrokerDetector(src.kafka_bootstrap, lambda: self.ingest.stats.last_error, clock,
                           on_outage=self.ingest.note_outage),
            HealthDetector(cfg, src.status, src.service_urls, src.probe_all, src.fleet, clock),
        ]
        # SLOs last: what is wrong (RED, business SLIs) should open an incident before how much it hurts.
        self.slow: list[Detector] = [red, BusinessDetector(cfg, self.state, self._group_offsets, clock),
                                     SloDetector(cfg, self.state, red, clock)]
        self.checks: dict[str, dict[str, Any]] = {}
        self._due = {"fast": 0.0, "slow": 0.0, "prune": 0.0}
        self._adopted = False

    # --- wiring helpers

    def known_services(self) -> set[str]:
        fleet = self.sources.fleet()
        return {*(fleet.names() if fleet else ()), *self.sources.service_urls(), BROKER}

    def _group_offsets(self) -> GroupOffsets | None:
        servers = self.sources.kafka_bootstrap()
        if servers is None:
            return None
        if self._offsets is None or self._offsets.bootstrap != servers:
            self._offsets = GroupOffsets(servers)
        return self._offsets

    # --- the loop

    def run(self, stop: threading.Event) -> None:
        """Consume and (when leader) detect until ``stop`` is set; then close everything."""
        self.ingest.start()
        log.info("Scout started (pid %d, group %s)", os.getpid(), self.cfg.group_id)
        try:
            while not stop.is_set():
                try:
                    self.step()
                except Exception:  # noqa: BLE001 - a bug in one tick must not end detection
                    log.exception("Scout tick failed; continuing")
                stop.wait(min(self.cfg.health_interval_s, self.cfg.metrics_interval_s) / 2)
        finally:
            self.close()

    def step(self) -> None:
        """One tick: run the checks that are due (leader only), the pipeline and the tracker."""
        now = self.clock()
        if self.leader.try_acquire() and self._adopt(now):
            ran = self._run_due(now)
            if ran:
                self.pipeline.tick(now)
            self.desk.submit(self.pipeline.drain())
            self.desk.sync(now)
            if now >= self._due["prune"]:
                self._due["prune"] = now + PRUNE_EVERY_S
                self.state.prune(now - max(self.cfg.slo_period_s, 2 * self.cfg.red.baseline_s))
        self.write_status()

    def _adopt(self, now: float) -> bool:
        """Rebuild the book from the tracker once per leadership (nothing is decided before)."""
        if self._adopted:
            return True
        try:
            incidents = self.desk.rebuild(now, self.cfg.recurrence_window_s)
        except TrackerUnavailable as exc:
            log.warning("leader waits for the tracker to rebuild its incidents: %s", exc)
            return False
        self.pipeline.adopt(incidents, now)
        self._adopted = True
        log.info("leading: %d incident(s) taken over from the tracker", sum(i.is_open for i in incidents))
        return True

    def _run_due(self, now: float) -> bool:
        ran = False
        for group, detectors, every in (("fast", self.fast, self.cfg.health_interval_s),
                                        ("slow", self.slow, self.cfg.metrics_interval_s)):
            if now < self._due[group]:
                continue
            self._due[group] = now + every
            for detector in detectors:
                self._run_check(detector)
            ran = True
        return ran

    def _run_check(self, detector: Detector) -> None:
        try:
            check = detector.check()
        except Exception as exc:  # noqa: BLE001 - one broken source must not stop the others
            log.exception("check %s failed", type(detector).__name__)
            self.checks[type(detector).__name__] = {"status": CheckStatus.ERROR.value, "detail": str(exc)[:200]}
            return
        self.checks[check.detector.value] = {"status": check.status.value, "at": check.at, "detail": check.detail,
                                             "symptoms": len(check.symptoms), "clears": len(check.clears)}
        self.pipeline.process(check)

    # --- reporting

    def status(self) -> dict[str, Any]:
        stats = self.ingest.stats
        return {
            "name": self.name, "pid": os.getpid(), "at": self.clock(), "leader": self.leader.held,
            "group": self.cfg.group_id,
            "ingest": {**vars(stats), "skipped": dict(stats.skipped)},
            "checks": self.checks,
            "incidents": [{"number": i.number, "fingerprint": i.fingerprint, "severity": i.severity,
                           "count": i.count, "recurrences": i.recurrences} for i in self.book.open()],
            "unknown_services": sorted(set(self.pipeline.fingerprint.unknown) | self.topology.unknown),
            "tracker_queue": len(self.desk.queue), "work_items_waiting": len(self.publisher.queue),
            "decisions": [d.model_dump() for d in list(self.pipeline.recent)[-30:]],
        }

    def write_status(self) -> None:
        path = self.dir / f"status-{self.name}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.status(), default=str))
        os.replace(tmp, path)

    def close(self) -> None:
        self.ingest.stop()
        self.desk.flush()
        self.publisher.close()
        if self._offsets is not None:
            self._offsets.close()
        self.leader.release()
        self.sources.close()
        self.state.close()
        (self.dir / f"status-{self.name}.json").unlink(missing_ok=True)
