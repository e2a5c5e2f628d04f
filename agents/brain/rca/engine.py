"""The RCA engine's one entry point: ``analyze(incident, baseline) -> Diagnosis``.

Order of the pass: columns for both windows (``Tables``: span tree, self times, log templates);
span-level anomalies (unusual behaviour, latency beyond the baseline tail, errors); which of
them are explained by an anomaly further down the same subtree in another service, or relay an
error that names another service (those are victims or propagation); per-service findings from
spans, logs, metrics, runtime events and changes; ranking and fault class."""

from __future__ import annotations

import numpy as np

from agents.brain.rca.context import Tables
from agents.brain.rca.errors import error_findings, error_flags
from agents.brain.rca.events import change_findings, event_findings
from agents.brain.rca.findings import Finding
from agents.brain.rca.latency import latency, latency_findings
from agents.brain.rca.logs import log_findings
from agents.brain.rca.metrics import metric_findings
from agents.brain.rca.scoring import diagnose
from agents.brain.rca.signatures import behaviour, struct_findings
from sre_space.models.diagnosis import Diagnosis
from sre_space.models.window import TelemetryWindow


def span_findings(t: Tables, inc_seconds: float, base_seconds: float) -> list[Finding]:
    """The statistical pass over the span and log columns of both windows (vectorised)."""
    beh = behaviour(t)
    lat = latency(t)
    err, relayed = error_flags(t.inc, t.inc_logs, t.services.names)
    # Span-level anomalies that explain their callers: unusual behaviour, latency the baseline
    # rarely shows, errors. A span relaying another service's failure is explained by it.
    strong = beh.anomalous | (lat.slow & (lat.chance < 0.2)) | err
    explained = t.inc.descendants_flag(strong) | relayed
    findings = struct_findings(t, beh, explained)
    findings += error_findings(t, err, explained)
    findings += latency_findings(t, lat)
    findings += log_findings(t, inc_seconds, base_seconds)
    return findings


def analyze(incident: TelemetryWindow, baseline: TelemetryWindow) -> Diagnosis:
    """Rank the likely root causes of ``incident`` against ``baseline`` (the engine decides)."""
    tables = Tables.build(incident, baseline)
    findings = span_findings(tables, incident.seconds, baseline.seconds)
    traced = frozenset(tables.services.names[s] for s in np.unique(tables.inc.service))
    findings += metric_findings(incident.metrics, baseline.metrics, traced)
    findings += event_findings(incident, baseline)
    findings += change_findings(incident)
    return diagnose(findings, spans_analysed=len(incident.spans) + len(baseline.spans), traced=traced)
