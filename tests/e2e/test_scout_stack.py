"""Scout against the real embedded stack (`sre-space up` with free ports and the default traffic),
read as timelines: fault-free traffic opens nothing; a stopped service is exactly one incident
with its service label, resolved when it comes back; a bad config change that makes
policy-service reject purchases opens a business-SLI incident."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agents.scout.service import Scout
from chaos.injectors import inject, revert
from sre_space.adapters.tracker.local import LocalTracker
from sre_space.config import Settings
from sre_space.models.incident import Issue, fingerprint_label
from sre_space.models.scout import ScoutSettings
from sre_space.stack.launcher import control
from tests.e2e.test_stack import ROOT, cli
from tests.helpers import poll_until

FLEET_FILE = ROOT / "deploy" / "fleet.yaml"


@dataclass
class Watched:
    home: Path
    scout: Scout
    tracker: LocalTracker

    def incidents(self, state: str = "all") -> list[Issue]:
        return self.tracker.list_issues(state, ["incident"])  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Watched]:
    home = tmp_path_factory.mktemp("scout-stack")
    # the stack's own control plane stays off: this Scout is the one under test, and no workflow
    # restarts anything behind the test's back
    up = cli(home, "up", SRE_TRAFFIC_RATE="2", SRE_AGENTS="false")
    assert up.returncode == 0, up.stdout + up.stderr
    settings = Settings(home=home, fleet_file=FLEET_FILE, scout=ScoutSettings())
    tracker = LocalTracker(home / "tracker.db")
    scout = Scout(settings, home, tracker)
    stop = threading.Event()
    thread = threading.Thread(target=scout.run, args=(stop,), name="scout-under-test")
    thread.start()
    try:
        poll_until(lambda: scout.checks.get("business", {}).get("status") == "ok",
                   "Scout leading and judging business SLIs", timeout=60)
        yield Watched(home, scout, tracker)
    finally:
        stop.set()
        thread.join(30)
        cli(home, "down")


def observe_quiet(watched: Watched, seconds: float) -> None:
    """A measurement window: fail as soon as any incident opens (the window is the point)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        opened = watched.incidents()
        assert not opened, f"false positive: {[(i.number, i.title, i.body) for i in opened]}"
        assert watched.scout.ingest.alive
        time.sleep(1.0)


def test_fault_free_traffic_opens_no_incident(watched: Watched) -> None:
    observe_quiet(watched, 30)
    assert watched.scout.ingest.stats.counted > 0  # business events were evaluated all along


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_fault_free_traffic_opens_no_incident_for_10_minutes(watched: Watched) -> None:
    observe_quiet(watched, 600)


def test_stopped_service_is_one_incident_and_resolves_when_back(watched: Watched) -> None:
    assert not watched.incidents("open")
    before = {i.number for i in watched.incidents()}
    control(watched.home, "POST", "/services/user-service/stop")

    def opened() -> list[Issue]:
        return [i for i in watched.incidents() if i.number not in before]

    poll_until(lambda: opened(), "an incident after user-service stopped", timeout=30)
    # its callers fail too (not ready, 5xx, conversion): give them time to join, then count
    poll_until(lambda: watched.scout.book.open() and len(watched.scout.book.open()[0].fingerprints) >= 3,
               "the callers' symptoms joined the incident", timeout=30)
    [incident] = opened()
    assert "service:user-service" in incident.labels and incident.state.value == "open"

    control(watched.home, "POST", "/services/user-service/start")
    poll_until(lambda: watched.tracker.get_issue(incident.number).state.value == "closed",
               "the incident auto-resolved after user-service came back", timeout=120)
    assert "status:resolved" in watched.tracker.get_issue(incident.number).labels
    assert len(opened()) == 1


def test_conversion_drop_opens_a_business_sli_incident(watched: Watched) -> None:
    poll_until(lambda: not watched.incidents("open"), "no open incident before the fault", timeout=60)
    before = {i.number for i in watched.incidents()}
    entry = inject(watched.home, "bad-config")  # MAX_POLICY_PREMIUM=1: every purchase is refused
    try:
        label = fingerprint_label("policy-service:sli.conversion")

        def business_incident() -> Issue | None:
            return next((i for i in watched.incidents("open") if label in i.labels and i.number not in before), None)

        found = poll_until(business_incident, "an incident holding the conversion SLI", timeout=90)
        assert found is not None and "service:policy-service" in found.labels
    finally:
        revert(watched.home, entry)
