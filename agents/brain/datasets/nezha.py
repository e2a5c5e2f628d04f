"""Adapter for Nezha-format RCA data (Yu et al., FSE 2023): ``rca_data/<day>/`` fault periods
with ``<day>-fault_list.json`` labels, ``construct_data/<day>/`` fault-free windows, every CSV as
``.csv`` or ``.csv.gz``. It turns each labelled injection into an incident window and a baseline
window; the labels come out separately (``NezhaDataset.labels``) so only a scorer reads them.

Windows (same rule for every case, day and system):
- incident: traces that start in ``[inject_time, inject_time + INCIDENT_S)``;
- baseline: the day's fault-free window (``construct_data/<day>``). Only when a day has none,
  the traces of ``PRE_FAULT_S`` ending ``LEAD_S`` before the injection: on the public data some
  minutes just before ``inject_time`` already show the fault's symptoms (an earlier injection
  lingering, or a clock offset), so they are not clean;
- metrics (one row a minute, so they need a longer history): the fault-free window's rows plus
  the ``METRIC_PRE_S`` before the injection, minus ``LEAD_S`` before it and minus every earlier
  injection's disturbed period.
``inject_time`` (UTC) is authoritative; ``inject_timestamp`` is off by 8 h on some days.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from agents.brain.datasets.files import minute_files, read_rows, service_of
from agents.brain.datasets.nezha_rows import log_line, metric_rows, span_of
from sre_space.errors import ConfigError
from sre_space.models.telemetry import LogLine, MetricSample, Span
from sre_space.models.window import TelemetryWindow

INCIDENT_S = 180  # the paper's faults last about 3 minutes
PRE_FAULT_S = 120
LEAD_S = 120  # symptoms may start this long before the recorded injection time
METRIC_PRE_S = 1800
FAULT_SPAN_S = 240  # how long another injection keeps the system disturbed
_US = 1_000_000


class NezhaCaseRef(BaseModel):
    """What the engine may know about a case: an id and when the incident started."""

    model_config = ConfigDict(frozen=True)

    case_id: str
    day: str
    inject_us: int


class NezhaLabel(BaseModel):
    """Ground truth of one case; for the scorer only."""

    model_config = ConfigDict(frozen=True)

    case_id: str
    service: str
    instance: str
    fault_type: str
    inner: str | None = None


class NezhaCase(BaseModel):
    """One case's windows, without its label."""

    model_config = ConfigDict(frozen=True)

    ref: NezhaCaseRef
    incident: TelemetryWindow
    baseline: TelemetryWindow


class NezhaDataset:
    """A Nezha-format directory holding any number of days."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._days = self._find_days()
        self._metric_cache: dict[str, dict[str, list[tuple[int, dict[str, float]]]]] = {}
        self._construct_cache: dict[str, tuple[list[Span], list[LogLine], list[MetricSample]]] = {}

    def _find_days(self) -> dict[str, Path]:
        rca = self.root / "rca_data"
        days = {p.parent.name: p for p in sorted(rca.glob("*/*fault_list.json"))} if rca.is_dir() else {}
        if not days:
            raise ConfigError(f"{self.root} is not a Nezha-format directory (no rca_data/<day>/*fault_list.json)")
        return days

    @property
    def days(self) -> list[str]:
        return list(self._days)

    def _injections(self, day: str) -> list[dict[str, str]]:
        try:
            data = json.loads(self._days[day].read_text())
            items = [item for hour in sorted(data) for item in data[hour]]
            items.sort(key=lambda item: item["inject_time"])
            for item in items:
                _parse_time(item["inject_time"])
            return items
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"malformed fault list {self._days[day]}: {exc}") from exc

    def cases(self) -> list[NezhaCaseRef]:
        """Every labelled case of every day, in time order (no label content)."""
        refs = []
        for day in self._days:
            for item in self._injections(day):
                us = _parse_time(item["inject_time"])
                refs.append(NezhaCaseRef(case_id=f"{day} {item['inject_time'][-8:]}", day=day, inject_us=us))
        return refs

    def labels(self) -> dict[str, NezhaLabel]:
        """Ground truth by case id, with the inner-level label from ``root_cause_*.json``."""
        inner = self._inner_labels()
        out = {}
        for day in self._days:
            for item in self._injections(day):
                service, kind = service_of(item["inject_pod"]), item["inject_type"]
                case_id = f"{day} {item['inject_time'][-8:]}"
                out[case_id] = NezhaLabel(
                    case_id=case_id, service=service, instance=item["inject_pod"], fault_type=kind,
                    inner=inner.get(service, {}).get(kind),
                )
        return out

    def _inner_labels(self) -> dict[str, dict[str, str]]:
        merged: dict[str, dict[str, str]] = {}
        for path in sorted((self.root / "construct_data").glob("root_cause_*.json")):
            for service, kinds in json.loads(path.read_text()).items():
                merged.setdefault(service, {}).update(kinds)
        return merged

    def load(self, ref: NezhaCaseRef) -> NezhaCase:
        """Build the incident and baseline windows of one case."""
        inj = ref.inject_us
        lead, inc_end = LEAD_S * _US, inj + INCIDENT_S * _US
        disturbed = [(o - lead, o + FAULT_SPAN_S * _US) for o in self._inject_times(ref.day) if o < inj]
        construct = self._construct(ref.day)
        pre_start = inj - lead - PRE_FAULT_S * _US
        spans = self._spans_between(ref.day, inj if construct[0] else pre_start, inc_end)
        incident, before = _split_by_trace_start(spans, inj, pre_start, inc_end, disturbed + [(inj - lead, inj)])
        base_spans = construct[0] or before
        base_ids, inc_ids = {s.trace_id for s in base_spans}, {s.trace_id for s in incident}
        logs = self._logs_between(ref.day, inj if construct[0] else pre_start, inc_end)
        history = self._metrics(ref.day, inj - METRIC_PRE_S * _US, inj - lead)
        inc = TelemetryWindow(
            start_us=inj, end_us=inc_end, spans=incident,
            logs=[ln for ln in logs if ln.trace_id in inc_ids],
            metrics=self._metrics(ref.day, inj, inc_end),
        )
        base = TelemetryWindow(
            start_us=min((s.start_us for s in base_spans), default=pre_start),
            end_us=max((s.end_us for s in base_spans), default=inj - lead),
            spans=base_spans,
            logs=construct[1] if construct[0] else [ln for ln in logs if ln.trace_id in base_ids],
            metrics=[m for m in history if not _inside(m.time_us, disturbed)] + construct[2],
        )
        return NezhaCase(ref=ref, incident=inc, baseline=base)

    def _inject_times(self, day: str) -> list[int]:
        return [_parse_time(item["inject_time"]) for item in self._injections(day)]

    def _spans_between(self, day: str, start_us: int, end_us: int) -> list[Span]:
        folder = self._days[day].parent / "trace"
        spans = (span_of(r) for p in minute_files(folder, "trace", start_us, end_us) for r in read_rows(p))
        # Minute files overlap on some days (one spans three minutes): keep each span once.
        unique = {(s.trace_id, s.span_id): s for s in spans}
        return list(unique.values())

    def _logs_between(self, day: str, start_us: int, end_us: int) -> list[LogLine]:
        folder = self._days[day].parent / "log"
        lines = (log_line(r) for p in minute_files(folder, "log", start_us, end_us) for r in read_rows(p))
        unique = {(ln.span_id, ln.time_us, ln.message): ln for ln in lines if ln is not None}
        return list(unique.values())

    def fault_free(self, day: str) -> TelemetryWindow | None:
        """The day's fault-free window (spans and logs), None when the day has none."""
        spans, logs, _ = self._construct(day)
        if not spans:
            return None
        return TelemetryWindow(start_us=min(s.start_us for s in spans), end_us=max(s.end_us for s in spans),
                               spans=spans, logs=logs)

    def _construct(self, day: str) -> tuple[list[Span], list[LogLine], list[MetricSample]]:
        """The day's fault-free window (empty when the day has none), read once per day."""
        if day not in self._construct_cache:
            self._construct_cache[day] = self._read_construct(day)
        return self._construct_cache[day]

    def _read_construct(self, day: str) -> tuple[list[Span], list[LogLine], list[MetricSample]]:
        folder = self.root / "construct_data" / day
        spans = [span_of(r) for p in sorted(folder.glob("trace/*_trace.csv*")) for r in read_rows(p)]
        logs = [ln for p in sorted(folder.glob("log/*_log.csv*")) for r in read_rows(p)
                if (ln := log_line(r)) is not None]
        if not spans:
            return [], logs, []
        start, end = min(s.start_us for s in spans), max(s.end_us for s in spans)
        return spans, logs, self._metrics(day, start, end)

    def _metrics(self, day: str, start_us: int, end_us: int) -> list[MetricSample]:
        out: list[MetricSample] = []
        for pod, rows in self._pod_metrics(day).items():
            service = service_of(pod)
            for ts, values in rows:
                if start_us <= ts < end_us:
                    # Values were parsed to floats already: skip the second validation.
                    out.extend(MetricSample.model_construct(time_us=ts, service=service, name=name, value=value,
                                                            instance=pod) for name, value in values.items())
        return out

    def _pod_metrics(self, day: str) -> dict[str, list[tuple[int, dict[str, float]]]]:
        if day not in self._metric_cache:
            folder = self._days[day].parent / "metric"
            pods = {}
            for path in sorted(folder.glob("*_metric.csv*")):
                pod = re.sub(r"_metric\.csv(\.gz)?$", "", path.name)
                pods[pod] = metric_rows(read_rows(path))
            self._metric_cache[day] = pods
        return self._metric_cache[day]


def _parse_time(text: str) -> int:
    """``YYYY-MM-DD HH:MM:SS`` (UTC) to microseconds since the epoch."""
    moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    return int(moment.timestamp()) * _US


def _inside(t: int, ranges: list[tuple[int, int]]) -> bool:
    return any(lo <= t < hi for lo, hi in ranges)


def _split_by_trace_start(
    spans: list[Span], inject_us: int, pre_start: int, end_us: int, disturbed: list[tuple[int, int]]
) -> tuple[list[Span], list[Span]]:
    """A trace belongs to the window its first span starts in, so trees are never cut; traces
    that start while an earlier injection still disturbs the system are no baseline."""
    first: dict[str, int] = {}
    for s in spans:
        if s.start_us < first.get(s.trace_id, 1 << 62):
            first[s.trace_id] = s.start_us
    incident = [s for s in spans if inject_us <= first[s.trace_id] < end_us]
    before = [s for s in spans if pre_start <= first[s.trace_id] < inject_us
              and not _inside(first[s.trace_id], disturbed)]
    return incident, before


__all__ = ["NezhaCase", "NezhaCaseRef", "NezhaDataset", "NezhaLabel"]
