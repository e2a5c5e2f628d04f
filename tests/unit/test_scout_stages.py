"""Scout's pipeline stages, one table per stage: a case is the state before, one symptom (or one
incident) and the decision expected. Time is injected (T0 + seconds)."""

from __future__ import annotations

import pytest

from agents.scout.book import IncidentState
from agents.scout.signals import SignalRegistry
from agents.scout.stages.base import Decision, EffectKind, Reason
from agents.scout.stages.dedupe import Dedupe
from agents.scout.stages.fingerprint import Fingerprint
from agents.scout.stages.flapping import Flapping
from agents.scout.stages.group import Group
from agents.scout.stages.inhibit import Inhibit
from agents.scout.stages.pending import Pending
from agents.scout.stages.report import Report
from agents.scout.stages.resolve import Resolve
from agents.scout.stages.route import Route
from agents.scout.stages.severity import Severity
from agents.scout.symptoms import Symptom
from tests.unit.scout_helpers import T0, clear, context, incident, sym


def reason(result: Symptom | Decision | None) -> Reason | None:
    return result.reason if isinstance(result, Decision) else None


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        ("user-service", None),  # a fleet service passes
        ("broker", None),  # the event bus is known too
        ("billing", Reason.UNKNOWN_SERVICE),  # not in the fleet: reported, no incident
    ],
)
def test_fingerprint(service: str, expected: Reason | None) -> None:
    stage = Fingerprint()
    assert reason(stage(sym(service, "down"), context())) == expected
    assert (service in stage.unknown) == (expected is not None)


@pytest.mark.parametrize(
    ("firing", "symptom", "severity"),
    [
        ([], ("user-service", "down", 2), 2),  # no SLO burning: the hint stands
        ([("frontend", "slo.avail", 1)], ("user-service", "down", 2), 1),  # frontend depends on it: sev 1
        ([("frontend", "slo.avail", 1)], ("frontend", "error_ratio", 3), 1),  # the SLO's own service
        ([("policy-service", "slo.conv", 2)], ("quote-service", "down", 3), 3),  # unrelated branch
        ([("frontend", "slo.avail", 3)], ("user-service", "down", 2), 2),  # never lowers
    ],
)
def test_severity(firing: list[tuple[str, str, int]], symptom: tuple[str, str, int], severity: int) -> None:
    signals = SignalRegistry()
    for service, signal, sev in firing:
        signals.fire(sym(service, signal, severity=sev))
    result = Severity()(sym(*symptom[:2], severity=symptom[2]), context(signals=signals))
    assert isinstance(result, Symptom) and result.severity == severity


@pytest.mark.parametrize(
    ("open_fp", "symptom", "expected", "severity_after"),
    [
        (None, ("user-service", "down", 2), None, None),  # nothing open: goes on
        (("user-service", "down"), ("user-service", "down", 2), Reason.REPEAT, 2),  # counted
        (("user-service", "down"), ("user-service", "down", 1), Reason.SEVERITY_RAISED, 1),  # worse: raised
        (("user-service", "down"), ("quote-service", "down", 2), None, 2),  # another fingerprint
    ],
)
def test_dedupe(open_fp: tuple[str, str] | None, symptom: tuple[str, str, int], expected: Reason | None,
                severity_after: int | None) -> None:
    ctx = context()
    inc = incident(ctx.book, *open_fp) if open_fp else None
    result = Dedupe()(sym(*symptom[:2], severity=symptom[2]), ctx)
    assert reason(result) == expected
    if inc is not None:
        assert inc.severity == severity_after
        assert inc.count == (2 if expected else 1)


@pytest.mark.parametrize(
    ("open_fp", "age", "symptom", "expected", "primary"),
    [
        # a caller's symptom joins the crash of its dependency; the crash stays primary
        (("user-service", "down"), 5, ("quote-service", "not_ready"), Reason.GROUPED, "user-service:down"),
        # the dependency's crash arrives after its caller's symptom: it becomes the root
        (("quote-service", "not_ready"), 5, ("user-service", "down"), Reason.GROUPED_REROOTED, "user-service:down"),
        # same service, more specific signal: OOM kill explains "down"
        (("user-service", "down"), 1, ("user-service", "oom_killed"), Reason.GROUPED_REROOTED,
         "user-service:oom_killed"),
        # siblings (both call user-service, neither calls the other) are not related
        (("quote-service", "error_ratio"), 5, ("policy-service", "error_ratio"), None, "quote-service:error_ratio"),
        # related, but the incident's latest symptom is older than the group window
        (("user-service", "down"), 61, ("quote-service", "not_ready"), None, "user-service:down"),
        # the broker is related to everyone and becomes the root
        (("policy-service", "not_ready"), 2, ("broker", "broker_unavailable"), Reason.GROUPED_REROOTED,
         "broker:broker_unavailable"),
    ],
)
def test_group(open_fp: tuple[str, str], age: float, symptom: tuple[str, str], expected: Reason | None,
               primary: str) -> None:
    ctx = context(now=T0 + age)
    inc = incident(ctx.book, *open_fp)
    assert reason(Group()(sym(*symptom, at=T0 + age), ctx)) == expected
    assert inc.fingerprint == primary
    joined = f"{symptom[0]}:{symptom[1]}" in inc.fingerprints
    assert joined == (expected is not None)
    assert [e.kind for e in ctx.effects] == ([EffectKind.UPDATE, EffectKind.COMMENT] if expected else [])


@pytest.mark.parametrize(
    ("firing", "symptom", "expected"),
    [
        ([("user-service", "down")], ("quote-service", "not_ready"), Reason.INHIBITED),  # caller of a crash
        ([("user-service", "down")], ("frontend", "error_ratio"), Reason.INHIBITED),  # transitive caller
        ([("user-service", "down")], ("quote-service", "down"), None),  # a caller's own crash is its own
        ([("quote-service", "down")], ("policy-service", "error_ratio"), None),  # sibling: unrelated
        ([("user-service", "not_ready")], ("quote-service", "error_ratio"), None),  # not a crash
        ([("broker", "broker_unavailable")], ("policy-service", "sli.conversion"), Reason.INHIBITED),  # bus
        ([("broker", "broker_unavailable")], ("quote-service", "not_ready"), Reason.INHIBITED),  # bus readiness
        ([("broker", "broker_unavailable")], ("user-service", "down"), None),  # a crash is not the bus
    ],
)
def test_inhibit(firing: list[tuple[str, str]], symptom: tuple[str, str], expected: Reason | None) -> None:
    ctx = context()
    for f in firing:
        ctx.signals.fire(sym(*f))
    assert reason(Inhibit()(sym(*symptom), ctx)) == expected


def test_inhibited_symptom_is_counted_on_the_sources_incident() -> None:
    ctx = context()
    source = incident(ctx.book, "user-service", "down")
    ctx.signals.fire(sym("user-service", "down"))
    Inhibit()(sym("quote-service", "not_ready"), ctx)
    Inhibit()(sym("quote-service", "not_ready"), ctx)
    assert source.related == {"quote-service:not_ready": 2}
    assert "quote-service:not_ready" not in source.fingerprints  # explained, not part of its lifecycle


def test_settling_slo_is_inhibited_until_it_clears() -> None:
    ctx = context()
    inc = incident(ctx.book, "frontend", "slo.avail")
    ctx.signals.fire(sym("frontend", "slo.avail"))
    ctx.signals.get("frontend:slo.avail").settling = inc.key
    assert reason(Inhibit()(sym("frontend", "slo.avail"), ctx)) == Reason.INHIBITED
    ctx.signals.clear(clear("frontend", "slo.avail"))
    assert reason(Inhibit()(sym("frontend", "slo.avail"), ctx)) is None


@pytest.mark.parametrize(
    ("changes", "flapping"),
    [
        ([], False),  # steady
        ([10, 20, 30], False),  # three changes: below the threshold of four
        ([10, 20, 30, 40], True),  # four changes within 300 s
        ([-400, 20, 30, 40], False),  # the oldest change left the window
    ],
)
def test_flapping(changes: list[float], flapping: bool) -> None:
    ctx = context(now=T0 + 50)
    st = ctx.signals.get("user-service:not_ready")
    st.changes.extend(T0 + c for c in changes)
    result = Flapping()(sym("user-service", "not_ready", at=T0 + 50), ctx)
    assert isinstance(result, Symptom) and bool(result.evidence.get("flapping")) == flapping


@pytest.mark.parametrize(
    ("signal", "fires", "flapping", "expected"),
    [
        ("not_ready", 1, False, Reason.PENDING),  # soft, first sighting
        ("not_ready", 2, False, None),  # soft, second check in a row: counts
        ("error_ratio", 1, False, Reason.PENDING),
        ("not_ready", 1, True, None),  # flapping: never twice in a row, yet a problem
        ("down", 1, False, None),  # a crash is definite at once
        ("sli.conversion", 1, False, None),  # windowed already
    ],
)
def test_pending(signal: str, fires: int, flapping: bool, expected: Reason | None) -> None:
    ctx = context()
    for _ in range(fires):
        ctx.signals.fire(sym("quote-service", signal))
    assert reason(Pending()(sym("quote-service", signal, flapping=flapping or None), ctx)) == expected


@pytest.mark.parametrize(
    ("resolved_ago", "expected", "recurrences"),
    [
        (None, Reason.OPENED, 0),  # never seen: a new incident
        (600, Reason.REOPENED, 1),  # resolved 10 minutes ago: a recurrence reopens it
        (3600, Reason.OPENED, 0),  # resolved an hour ago (window 30 min): a new incident
    ],
)
def test_route(resolved_ago: float | None, expected: Reason, recurrences: int) -> None:
    now = T0 + 7200
    ctx = context(now=now)
    if resolved_ago is not None:
        old = incident(ctx.book, "user-service", "down", number=7)
        old.state, old.resolved_at = IncidentState.RESOLVED, now - resolved_ago
    result = Route()(sym("user-service", "down", at=now), ctx)
    assert reason(result) == expected
    inc = ctx.book.open_for("user-service:down")
    assert inc is not None and inc.recurrences == recurrences
    assert [e.kind for e in ctx.effects] == [EffectKind.REOPEN if recurrences else EffectKind.OPEN]


@pytest.mark.parametrize(
    ("unreported", "since_comment", "expected"),
    [
        (0, 120, None),  # nothing new
        (5, 30, None),  # throttled: the last comment is 30 s old (limit 60 s)
        (5, 61, Reason.REPEATS_REPORTED),  # one comment with the counter
    ],
)
def test_report(unreported: int, since_comment: float, expected: Reason | None) -> None:
    ctx = context(now=T0 + since_comment)
    inc = incident(ctx.book, "user-service", "down")
    inc.unreported = unreported
    assert reason(Report()(inc, ctx)) == expected
    assert inc.unreported == (0 if expected else unreported)


@pytest.mark.parametrize(
    ("observations", "expected"),
    [
        (["ok", "ok"], None),  # two healthy checks: not yet (three needed)
        (["ok", "ok", "ok"], Reason.RESOLVED),
        (["ok", "ok", "fire", "ok"], None),  # a relapse restarts the count
        ([], Reason.RESOLVED_STALE),  # nobody reported it for longer than stale_after_s
        (["fire", "ok", "fire", "ok", "fire", "ok", "ok", "ok"], Reason.RESOLVE_HELD),  # flapping
    ],
)
def test_resolve(observations: list[str], expected: Reason | None) -> None:
    now = T0 + (len(observations) or 200) + 1
    ctx = context(now=now)
    inc = incident(ctx.book, "user-service", "down")
    ctx.signals.fire(sym("user-service", "down"))
    for i, what in enumerate(observations, 1):
        if what == "fire":
            ctx.signals.fire(sym("user-service", "down", at=T0 + i))
        else:
            ctx.signals.clear(clear("user-service", "down", at=T0 + i))
    ctx.signals.expire(now, ctx.cfg.stale_after_s)  # what the pipeline's tick does first
    assert reason(Resolve()(inc, ctx)) == expected
    assert (inc.state == IncidentState.RESOLVED) == (expected in (Reason.RESOLVED, Reason.RESOLVED_STALE))


def test_resolve_ignores_lingering_slo_burn_and_marks_it_settling() -> None:
    ctx = context(now=T0 + 10)
    inc = incident(ctx.book, "user-service", "down")
    inc.see(sym("frontend", "slo.avail"))
    ctx.signals.fire(sym("frontend", "slo.avail", at=T0 + 9))  # the slow window still holds the outage
    for i in range(3):
        ctx.signals.clear(clear("user-service", "down", at=T0 + i))
    assert reason(Resolve()(inc, ctx)) == Reason.RESOLVED
    assert ctx.signals.get("frontend:slo.avail").settling == inc.key


def test_resolve_moves_the_primary_to_what_still_fires() -> None:
    ctx = context(now=T0 + 10)
    inc = incident(ctx.book, "policy-service", "down")
    inc.see(sym("policy-service", "sli.conversion"))
    ctx.signals.fire(sym("policy-service", "sli.conversion", at=T0 + 9))
    for i in range(3):
        ctx.signals.clear(clear("policy-service", "down", at=T0 + i))
    assert reason(Resolve()(inc, ctx)) == Reason.PRIMARY_MOVED
    assert inc.fingerprint == "policy-service:sli.conversion" and inc.is_open
