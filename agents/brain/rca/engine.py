"""The RCA engine's one entry point: ``analyze(incident, baseline) -> Diagnosis``.

Order of the pass: tables for both windows; span-level anomalies (unseen behaviour, latency
beyond the baseline tail, errors); which of them are explained by an anomaly further down the
same subtree in another service (those are victims or propagation); per-service findings from
spans, metrics, runtime events and changes; ranking."""

from __future__ import annotations

from dataclasses import dataclass

from agents.brain.rca.context import Tables
from agents.brain.rca.errors import error_findings, error_flags
from agents.brain.rca.events import change_findings, event_findings
from agents.brain.rca.findings import Finding
from agents.brain.rca.latency import latency, latency_findings
from agents.brain.rca.metrics import metric_findings
from agents.brain.rca.scoring import diagnose
from agents.brain.rca.signatures import behaviour, struct_findings
from sre_space.models.diagnosis import Diagnosis
from sre_space.models.window import TelemetryWindow


@dataclass
class SpanPass:
    """What the statistical pass over spans found, before scoring (kept for benchmarks)."""

    tables: Tables
    findings: list[Finding]


def span_pass(incident: TelemetryWindow, baseline: TelemetryWindow) -> SpanPass:
    """The vectorised pass over spans and their logs."""
    t = Tables.build(incident, baseline)
    beh = behaviour(t)
    lat = latency(t)
    err = error_flags(t.inc, t.inc_logs)
    strong = beh.anomalous | (lat.slow & (lat.chance < 0.2)) | err
    explained = t.inc.descendants_flag(strong)
    findings = struct_findings(t, beh, explained)
    findings += error_findings(t, err, explained)
    findings += latency_findings(t, lat)
    return SpanPass(t, findings)


def analyze(incident: TelemetryWindow, baseline: TelemetryWindow) -> Diagnosis:
    """Rank the likely root causes of ``incident`` against ``baseline`` (the engine decides)."""
    result = span_pass(incident, baseline)
    findings = result.findings
    traced = {s.service for s in incident.spans}
    findings += metric_findings(incident.metrics, baseline.metrics, traced)
    findings += event_findings(incident, baseline)
    findings += change_findings(incident)
    return diagnose(findings, spans_analysed=len(incident.spans) + len(baseline.spans))
