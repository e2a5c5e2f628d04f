"""Brain on the real embedded stack: traffic runs for a baseline, a fault is injected, and the
live diagnoser (spans through the Jaeger API, runtime events, GitOps commits, logs) names the
service and class. The control plane is off (``SRE_AGENTS=false``): the test calls Brain itself.

Timeline per fault: healthy traffic (baseline) → inject at t0 → the symptom shows → diagnose
with the incident "opened" a few seconds after t0 → revert → the fleet recovers. Last, a fault
recurs right after its first occurrence was reverted: the baseline leaves that occurrence out."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agents.brain.diagnose import LiveDiagnoser, traces_url
from agents.brain.evidence import SETTLE_S, EarlierIncidents, Evidence, LiveEvidence, WindowPolicy
from chaos.injectors import inject, revert
from sre_space.adapters.traces.jaeger import JaegerQuery
from sre_space.bench import brain
from sre_space.config import Settings
from sre_space.errors import ConfigError
from sre_space.models.diagnosis import FaultClass
from sre_space.models.events import IncidentWorkItem, WorkItemKind
from sre_space.models.window import TelemetryWindow
from sre_space.stack.launcher import control
from tests.e2e.test_stack import cli
from tests.helpers import poll_until

BASELINE_S = 15.0
pytestmark = pytest.mark.slow  # ~4 min: one stack, six faults one after the other


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("brain")
    up = cli(home, "up", SRE_AGENTS="false", SRE_TRAFFIC_RATE="4")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield home
    finally:
        cli(home, "down")


def spans_since(home: Path, since: float) -> int:
    url = traces_url(Settings(), home)
    assert url is not None
    with JaegerQuery(url) as query:
        return sum(len(t.spans) for t in query.find_traces("frontend", int(since * 1e6), int(time.time() * 1e6),
                                                          limit=100))


def settled_error_spans(home: Path, service: str, since: float) -> int:
    """Error spans of ``service`` since ``since`` that the incident window will hold: those old
    enough to be past the window's settling time."""
    url = traces_url(Settings(), home)
    assert url is not None
    until = time.time() - SETTLE_S
    with JaegerQuery(url) as query:
        traces = query.find_traces(service, int(since * 1e6), int(until * 1e6), tags={"error": "true"}, limit=100)
    return sum(1 for t in traces for s in t.spans if s.service == service and s.error and s.start_us < until * 1e6)


def fleet_ready(home: Path) -> bool:
    return all(s["ready"] is not False for s in control(home, "GET", "/status")["services"])


def healthy_baseline(home: Path, before: str) -> None:
    """Waits for the fleet to be ready, then for ``BASELINE_S`` of healthy traffic: a previous
    fault's tail (errors, slow calls) in the baseline would make the next fault look usual."""
    poll_until(lambda: fleet_ready(home), f"every service ready before {before}", timeout=60, interval=0.5)
    healthy_from = time.time()
    poll_until(lambda: spans_since(home, healthy_from) > 0 and time.time() > healthy_from + BASELINE_S,
               f"{BASELINE_S:.0f}s of healthy traffic before {before}", timeout=BASELINE_S + 30)


def event_seen(home: Path, service: str, kind: str, since: float) -> bool:
    return any(e["service"] == service and e["kind"] == kind and datetime.fromisoformat(e["time"]).timestamp() >= since
               for e in control(home, "GET", "/events")["events"])


class KeptEvidence(LiveEvidence):
    """The live evidence, kept for the failure message: what each window held per service, and
    the notes on how the windows were read."""

    last: Evidence | None = None

    def collect(self, item: IncidentWorkItem) -> Evidence:
        self.last = super().collect(item)
        return self.last

    def counts(self) -> str:
        if self.last is None:
            return "no evidence collected"
        return "; ".join(
            f"{name}: " + ", ".join(f"{svc} {n} spans/{e} errors" for svc, (n, e) in sorted(window_counts(w).items()))
            for name, w in (("incident", self.last.incident), ("baseline", self.last.baseline))
        ) + "".join(f"; {note}" for note in self.last.notes)


def window_counts(window: TelemetryWindow) -> dict[str, tuple[int, int]]:
    counts: dict[str, tuple[int, int]] = {}
    for s in window.spans:
        n, e = counts.get(s.service, (0, 0))
        counts[s.service] = (n + 1, e + s.error)
    return counts


def diagnose(
    home: Path, service: str, signal: str, t0: float, earlier: EarlierIncidents | None = None
) -> tuple[str | None, FaultClass | None, str]:
    settings = Settings(OPENAI_API_KEY=None, OPENAI_BASE_URL=None)  # the engine alone
    # The stack is young: the baseline is the healthy traffic just before t0, the incident since t0.
    evidence = KeptEvidence(home, traces_url(settings, home), earlier=earlier,
                            windows=WindowPolicy(incident_s=5, detection_lag_s=5, baseline_s=BASELINE_S))
    item = IncidentWorkItem(incident=2, kind=WorkItemKind.OPENED, fingerprint=f"{service}:{signal}", service=service,
                            signal=signal, severity=2, time=datetime.fromtimestamp(t0 + 5, UTC))
    diagnoser = LiveDiagnoser(settings, home, evidence=evidence)
    diagnosis = diagnoser(item)
    print(f"{signal}: {diagnosis.spans_analysed} spans, seconds {diagnoser.last_seconds}")  # noqa: T201 - a figure
    explained = f"{diagnosis.summary} ({evidence.counts()})"
    return (diagnosis.top.service if diagnosis.top else None), diagnosis.fault_class, explained


SCENARIOS: list[tuple[str, str, str, Callable[[Path, float], object], str, FaultClass]] = [
    # OOM: quote-service's memory grows until the runtime kills it (exit 137)
    ("oom", "quote-service", "oom_killed",
     lambda home, t0: event_seen(home, "quote-service", "oom_killed", t0), "quote-service", FaultClass.CRASH_OOM),
    # killed dependency: user-service's processes are stopped; quote and policy cannot reach it
    ("kill", "quote-service", "error_rate", lambda home, t0: time.time() > t0 + 12, "user-service",
     FaultClass.DEPENDENCY_UNAVAILABLE),
    # injected latency: user-service answers 800 ms later; quote-service and frontend only wait
    ("latency", "frontend", "latency_p95", lambda home, t0: time.time() > t0 + 12, "user-service",
     FaultClass.LATENCY),
    # injected errors: half of quote-service's requests fail there; the frontend relays them
    ("errors", "frontend", "error_rate",
     lambda home, t0: time.time() > t0 + 12 and settled_error_spans(home, "quote-service", t0) >= 5, "quote-service",
     FaultClass.ERRORS),
    # bad config: a fleet.yaml commit lowers policy-service's premium limit; purchases fail
    ("bad-config", "policy-service", "policy_failed_ratio", lambda home, t0: time.time() > t0 + 15, "policy-service",
     FaultClass.BAD_CHANGE),
]


@pytest.mark.parametrize(("scenario", "alert_service", "signal", "symptom", "service", "fault_class"), SCENARIOS,
                         ids=[s[0] for s in SCENARIOS])
def test_live_diagnosis_names_service_and_class(
    home: Path, scenario: str, alert_service: str, signal: str, symptom: Callable[[Path, float], object],
    service: str, fault_class: FaultClass,
) -> None:
    healthy_baseline(home, scenario)
    t0 = time.time()
    entry = inject(home, scenario)
    try:
        poll_until(lambda: symptom(home, t0), f"the {scenario} symptom", timeout=60, interval=0.5)
        found = diagnose(home, alert_service, signal, t0)
    finally:
        revert(home, entry)
    assert found[:2] == (service, fault_class), found[2]
    poll_until(lambda: fleet_ready(home), f"every service ready again after reverting {scenario}", timeout=60,
               interval=0.5)


def test_a_recurring_fault_is_not_measured_against_its_last_occurrence(home: Path) -> None:
    # The errors fault comes back seconds after it was reverted: a baseline of the seconds
    # before would hold its last occurrence. The tracker's earlier incident (#1) is left out,
    # and the baseline is the healthy traffic before it.
    *_, symptom, service, fault_class = next(s for s in SCENARIOS if s[0] == "errors")
    healthy_baseline(home, "the first occurrence")
    t1 = time.time()
    first = inject(home, "errors")
    try:
        poll_until(lambda: symptom(home, t1), "the first errors symptom", timeout=60, interval=0.5)
    finally:
        revert(home, first)
    resolved = time.time()
    poll_until(lambda: fleet_ready(home), "every service ready after the first occurrence", timeout=60, interval=0.5)
    t2 = time.time()
    again = inject(home, "errors")
    try:
        poll_until(lambda: symptom(home, t2), "the errors symptom again", timeout=60, interval=0.5)
        found = diagnose(home, "frontend", "error_rate", t2, earlier=lambda: [(1, t1 + 5, resolved)])
    finally:
        revert(home, again)
    assert found[:2] == (service, fault_class), found[2]
    assert "baseline leaves out earlier incidents (#1)" in found[2]


def test_bench_brain_reads_every_span_of_the_window(home: Path) -> None:
    now = time.time()
    url = traces_url(Settings(), home)
    assert url is not None
    with JaegerQuery(url) as query:  # more traces than the live diagnoser samples (60 per service)
        earlier = sum(len(t.spans) for t in query.find_traces("frontend", int((now - 50) * 1e6), int((now - 10) * 1e6),
                                                              limit=10_000))
    report = brain.run(Settings(SRE_SPACE_HOME=str(home)), minutes=1.0, baseline_minutes=0.5)
    assert earlier > 0 and report.incident_spans >= earlier
    assert report.baseline_spans > 0 and report.history_s >= 80
    assert report.spans_per_second > 0 and report.engine_peak_mb > 0


def test_bench_brain_without_a_stack_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no stack is running"):
        brain.run(Settings(SRE_SPACE_HOME=str(tmp_path)))
