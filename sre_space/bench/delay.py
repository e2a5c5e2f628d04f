"""``sre-space bench rca --inject-delay MS``: network delays the public data lacks, written into
real traces. Each day's fault-free window is split in two by trace (``synthetic.split_by_trace``);
for every service with enough calls crossing its boundary in the incident half, that service's
network is delayed (``synthetic.delay_network``) and the engine ranks the services against the
other half. Metrics and logs play no part (a delay changes neither in this model)."""

from __future__ import annotations

import time
from pathlib import Path

from pydantic import BaseModel

from sre_space.bench.rca import Accuracy, accuracy, rank_of
from sre_space.errors import ConfigError


class DelayCase(BaseModel):
    """One service delayed on one day: where the engine ranked it."""

    day: str
    service: str
    calls: int
    rank: int | None
    top: list[str]
    fault_class: str | None
    seconds: float


class DelayReport(BaseModel):
    """Every synthetic case, their accuracy, and the services left out for too few calls."""

    directory: str
    delay_ms: float
    min_calls: int
    cases: list[DelayCase]
    overall: Accuracy
    skipped: list[str]


def run(directory: Path, delay_ms: float, min_calls: int = 20) -> DelayReport:
    """One synthetic case per (day, service with at least ``min_calls`` crossing calls)."""
    from agents.brain.datasets.nezha import NezhaDataset
    from agents.brain.datasets.synthetic import crossing_calls, delay_network, split_by_trace
    from agents.brain.rca.engine import analyze

    if delay_ms <= 0:
        raise ConfigError(f"--inject-delay must be a positive number of milliseconds, not {delay_ms:g}")
    dataset = NezhaDataset(directory)
    cases: list[DelayCase] = []
    skipped: list[str] = []
    for day in dataset.days:
        window = dataset.fault_free(day)
        if window is None:
            skipped.append(f"{day}: no fault-free window")
            continue
        baseline, healthy = split_by_trace(window)
        for service in sorted({s.service for s in healthy.spans}):
            calls = len(crossing_calls(healthy.spans, service))
            if calls < min_calls:
                skipped.append(f"{day} {service}: {calls} calls")
                continue
            incident = healthy.model_copy(update={"spans": delay_network(healthy.spans, service,
                                                                         int(delay_ms * 1000))})
            started = time.perf_counter()
            diagnosis = analyze(incident, baseline)
            cases.append(DelayCase(
                day=day, service=service, calls=calls, rank=rank_of(diagnosis, service),
                top=[c.service for c in diagnosis.candidates[:3]],
                fault_class=diagnosis.fault_class.value if diagnosis.fault_class else None,
                seconds=round(time.perf_counter() - started, 4),
            ))
    if not cases:
        raise ConfigError(f"no service of {directory} has {min_calls} calls in half a fault-free window")
    return DelayReport(directory=str(directory), delay_ms=delay_ms, min_calls=min_calls, cases=cases,
                       overall=accuracy("all", [c.rank for c in cases]), skipped=skipped)


def render(report: DelayReport) -> str:
    """A plain-text table of the report."""
    acc = report.overall
    lines = [
        f"synthetic network delay of {report.delay_ms:g} ms on real traces: {report.directory}",
        f"(one case per service with >= {report.min_calls} calls in half of a day's fault-free window; "
        "ranks count distinct services, ties against the truth)", "",
        f"cases {acc.cases}: AC@1 {acc.ac[0]:.3f}  AC@3 {acc.ac[2]:.3f}  AC@5 {acc.ac[4]:.3f}  "
        f"Avg@5 {acc.avg5:.3f}", "",
    ]
    for c in report.cases:
        where = f"rank {c.rank}" if c.rank else "missed"
        lines.append(f"  {c.day} {c.service:<34} {c.calls:>5} calls  {where:<8} {c.fault_class or '-':<10} "
                     f"top: {', '.join(c.top)}")
    if report.skipped:
        lines.append(f"\nskipped (too few calls to judge): {len(report.skipped)}")
    return "\n".join(lines)
