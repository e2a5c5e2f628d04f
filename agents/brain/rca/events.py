"""Runtime events (exits, OOM kills, restarts) and recent changes (deploys, config edits) as
evidence. A crash is direct evidence against its service; a change shortly before the incident
makes its service more suspect and, when that service is the top candidate, the fault class
becomes ``bad_change`` (the fix is a rollback)."""

from __future__ import annotations

from collections import Counter

from agents.brain.rca.findings import Finding, surprise
from sre_space.adapters.runtime.base import RuntimeEvent, RuntimeEventKind
from sre_space.models.diagnosis import EvidenceKind
from sre_space.models.window import TelemetryWindow

# Prior weight of one event of a kind (log10 odds): an OOM kill or a crash names its service.
_STRENGTH = {
    RuntimeEventKind.OOM_KILLED: 6.0,
    RuntimeEventKind.EXITED: 4.0,
    RuntimeEventKind.RESTARTED: 3.0,
}
CHANGE_STRENGTH = 2.0
CHANGE_LOOKBACK_US = 30 * 60 * 1_000_000


def _us(event: RuntimeEvent) -> int:
    return int(event.time.timestamp() * 1_000_000)


def event_findings(incident: TelemetryWindow, baseline: TelemetryWindow) -> list[Finding]:
    """Crash-like events in the incident, weighed against how often the baseline had them."""
    ratio = incident.seconds / max(baseline.seconds, 1.0)
    before = Counter((e.service, e.kind) for e in baseline.events)
    now = Counter((e.service, e.kind) for e in incident.events if e.kind in _STRENGTH)
    out = []
    for (service, kind), k in now.items():
        score = _STRENGTH[kind] + surprise(k, before[(service, kind)] * ratio + 0.05)
        sample = next(e for e in incident.events if e.service == service and e.kind == kind)
        out.append(Finding(
            service=service, signal=f"runtime:{kind.value}", kind=EvidenceKind.EVENT, score=score,
            baseline=float(before[(service, kind)]), incident=float(k), unit="events",
            detail=f"{sample.instance} {kind.value}" + (f" (exit code {sample.exit_code})"
                                                         if sample.exit_code is not None else ""),
            refs=[f"{e.instance}@{e.time.isoformat()}" for e in incident.events
                  if e.service == service and e.kind == kind][:3],
        ))
    return out


def change_findings(incident: TelemetryWindow) -> list[Finding]:
    """Changes to a service from shortly before the incident until its end."""
    out = []
    for c in incident.changes:
        if c.service is None or not incident.start_us - CHANGE_LOOKBACK_US <= c.time_us <= incident.end_us:
            continue
        out.append(Finding(
            service=c.service, signal="change", kind=EvidenceKind.CHANGE, score=CHANGE_STRENGTH,
            detail=f"{c.kind.value}: {c.summary}".strip(), refs=[c.ref] if c.ref else [],
        ))
    return out
