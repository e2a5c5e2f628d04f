"""``sre-space bench rca``: the RCA engine on every labelled case of a public-format directory.

The engine sees only the windows; the labels are read here, after it answered. Ranks count every
distinct candidate and break ties pessimistically (a candidate with the same score as the truth
ranks ahead of it), which is stricter than Nezha's own evaluator. Run it with
``python -m sre_space.bench.rca <dir> [--format nezha] [--limit N] [--json]``.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from sre_space.errors import ConfigError, SREError
from sre_space.models.diagnosis import Diagnosis
from sre_space.models.window import TelemetryWindow

if TYPE_CHECKING:
    from agents.brain.datasets.nezha import NezhaCaseRef, NezhaDataset

FORMATS = ("nezha",)
TIE_RULE = "distinct services; ties broken pessimistically (equal scores rank ahead of the truth)"


class CaseResult(BaseModel):
    """One case: where the truth landed in the engine's ranking, and what it cost."""

    case_id: str
    fault_type: str
    truth: str
    rank: int | None = Field(description="1-based rank of the true service; None when missed")
    inner_hit: bool | None = Field(default=None, description="the top candidate is the true service and its "
                                   "evidence names a marker of the inner-level label (None: no inner label)")
    top: list[str] = Field(default_factory=list)
    fault_class: str | None = None
    confidence: float = 0.0
    inconclusive: bool = False
    spans: int = 0
    seconds: float = Field(description="engine time (analyze), wall clock")
    load_seconds: float = 0.0
    error: str | None = None


class Accuracy(BaseModel):
    """AC@k (k = 1..5) and Avg@5 over a group of cases."""

    group: str
    cases: int
    ac: list[float] = Field(description="AC@1 .. AC@5")
    avg5: float


class RcaBenchReport(BaseModel):
    """What ``run`` measured. Throughputs are in process CPU time (one core), over the incident
    and baseline spans of every case: ``spans_per_second`` is the vectorised statistical pass
    (columns to findings); ``ingest_spans_per_second`` turns span and log objects into those
    columns (tree, self times, log templates). ``peak_rss_mb`` is the process's peak RSS."""

    directory: str
    fmt: str
    tie_rule: str = TIE_RULE
    cases: list[CaseResult]
    overall: Accuracy
    per_type: list[Accuracy]
    seconds_mean: float
    seconds_max: float
    load_seconds_mean: float
    spans_per_second: float
    ingest_spans_per_second: float
    span_pass_spans: int
    log_lines: int
    peak_rss_mb: float
    engine_peak_mb: float = Field(description="tracemalloc peak of one analysis of the largest case")
    engine_peak_spans: int

    @property
    def missed(self) -> list[CaseResult]:
        return [c for c in self.cases if c.rank is None or c.rank > 1]


def rank_of(diagnosis: Diagnosis, truth: str) -> int | None:
    """Pessimistic rank of ``truth`` among the candidates: 1 + the other candidates scoring at
    least as high; None when the truth is not a candidate."""
    scores = {c.service: c.score for c in diagnosis.candidates}
    if truth not in scores:
        return None
    return 1 + sum(1 for s, v in scores.items() if s != truth and v >= scores[truth])


def inner_hit(diagnosis: Diagnosis, truth: str, inner: str | None) -> bool | None:
    """Lenient inner-level match of the top candidate: the true service, and its evidence names
    one marker of the label (``Class#line`` or ``Operation start``), or for a resource label a
    metric of the same resource (``CpuUsageRate(%)`` -> any ``cpu`` metric)."""
    if not inner:
        return None
    top = diagnosis.candidates[0] if diagnosis.candidates else None
    if top is None or top.service != truth:
        return False
    text = " ".join(f"{e.signal} {e.operation or ''} {e.detail}" for e in top.evidence) + f" {top.operation}"
    if "#" not in inner and " start" not in inner:  # a resource metric: match its stem (Cpu, Network...)
        stem = inner.split("(")[0][:3].lower()
        return any(e.signal.startswith("metric:") and stem in e.signal.lower() for e in top.evidence)
    markers = [m.removesuffix(" start") for m in inner.split("_")]
    return any(m in text for m in markers)


def accuracy(group: str, ranks: Sequence[int | None]) -> Accuracy:
    """AC@k = share of cases with rank <= k (misses and crashes stay in the denominator)."""
    n = len(ranks)
    ac = [sum(1 for r in ranks if r is not None and r <= k) / n if n else 0.0 for k in range(1, 6)]
    return Accuracy(group=group, cases=n, ac=[round(a, 4) for a in ac], avg5=round(sum(ac) / 5, 4))


def run(directory: Path, fmt: str = "nezha", limit: int | None = None) -> RcaBenchReport:
    """Run the engine on every labelled case of every day in ``directory``."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown dataset format {fmt!r} (known: {', '.join(FORMATS)})")
    from agents.brain.datasets.nezha import NezhaDataset
    from agents.brain.rca.engine import analyze

    dataset = NezhaDataset(directory)
    labels = dataset.labels()
    results: list[CaseResult] = []
    cost = PassCost()
    largest: tuple[int, NezhaCaseRef | None] = (-1, None)
    for i, ref in enumerate(dataset.cases()):
        if limit is not None and i >= limit:
            break
        label = labels[ref.case_id]
        started = time.perf_counter()
        case = dataset.load(ref)
        loaded = time.perf_counter()
        try:
            diagnosis = analyze(case.incident, case.baseline)
        except Exception as exc:  # a crash is a miss, reported, not a stopped benchmark
            results.append(CaseResult(case_id=ref.case_id, fault_type=label.fault_type, truth=label.service,
                                      rank=None, seconds=time.perf_counter() - loaded,
                                      load_seconds=loaded - started, error=f"{type(exc).__name__}: {exc}"))
            continue
        seconds = time.perf_counter() - loaded
        cost.measure(case.incident, case.baseline)
        size = len(case.incident.spans) + len(case.baseline.spans)
        largest = max(largest, (size, ref), key=lambda x: x[0])
        results.append(CaseResult(
            case_id=ref.case_id, fault_type=label.fault_type, truth=label.service,
            rank=rank_of(diagnosis, label.service), inner_hit=inner_hit(diagnosis, label.service, label.inner),
            top=[c.service for c in diagnosis.candidates[:5]],
            fault_class=diagnosis.fault_class.value if diagnosis.fault_class else None,
            confidence=diagnosis.confidence, inconclusive=diagnosis.inconclusive,
            spans=len(case.incident.spans), seconds=round(seconds, 4), load_seconds=round(loaded - started, 4),
        ))
    peak = _engine_peak(dataset, largest[1]) if largest[1] is not None else 0.0
    return _report(directory, fmt, results, cost, (peak, max(largest[0], 0)))


def _engine_peak(dataset: NezhaDataset, ref: NezhaCaseRef) -> float:
    """Peak memory the engine allocates for one case (its inputs excluded), in MB."""
    from agents.brain.rca.engine import analyze

    case = dataset.load(ref)
    tracemalloc.start()
    try:
        analyze(case.incident, case.baseline)
        return round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
    finally:
        tracemalloc.stop()


class PassCost:
    """CPU time of the two halves of the span pass, measured apart from the timed analysis."""

    def __init__(self) -> None:
        self.ingest = self.stats = 0.0
        self.spans = self.lines = 0

    def measure(self, incident: TelemetryWindow, baseline: TelemetryWindow) -> None:
        from agents.brain.rca.context import Tables
        from agents.brain.rca.engine import span_findings

        started = time.process_time()
        tables = Tables.build(incident, baseline)
        built = time.process_time()
        span_findings(tables, incident.seconds, baseline.seconds)
        self.ingest += built - started
        self.stats += time.process_time() - built
        self.spans += len(incident.spans) + len(baseline.spans)
        self.lines += len(incident.logs) + len(baseline.logs)


def _report(
    directory: Path, fmt: str, results: list[CaseResult], cost: PassCost, peak: tuple[float, int]
) -> RcaBenchReport:
    if not results:
        raise ConfigError(f"no labelled cases found in {directory}")
    types = sorted({r.fault_type for r in results})
    seconds = [r.seconds for r in results]
    return RcaBenchReport(
        directory=str(directory), fmt=fmt, cases=results,
        overall=accuracy("all", [r.rank for r in results]),
        per_type=[accuracy(t, [r.rank for r in results if r.fault_type == t]) for t in types],
        seconds_mean=round(sum(seconds) / len(seconds), 4), seconds_max=round(max(seconds), 4),
        load_seconds_mean=round(sum(r.load_seconds for r in results) / len(results), 4),
        spans_per_second=round(cost.spans / cost.stats) if cost.stats > 0 else 0.0,
        ingest_spans_per_second=round(cost.spans / cost.ingest) if cost.ingest > 0 else 0.0,
        span_pass_spans=cost.spans, log_lines=cost.lines,
        peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        engine_peak_mb=peak[0], engine_peak_spans=peak[1],
    )


def render(report: RcaBenchReport) -> str:
    """A plain-text table of the report."""
    lines = [f"RCA benchmark: {report.directory} (format {report.fmt}, {report.overall.cases} cases)",
             f"ranking: {report.tie_rule}", "",
             f"{'group':<16}{'cases':>6}{'AC@1':>8}{'AC@2':>8}{'AC@3':>8}{'AC@4':>8}{'AC@5':>8}{'Avg@5':>8}"]
    for acc in [report.overall, *report.per_type]:
        cells = "".join(f"{a:>8.3f}" for a in acc.ac)
        lines.append(f"{acc.group:<16}{acc.cases:>6}{cells}{acc.avg5:>8.3f}")
    lines.append("")
    lines.append("fault class given by the engine, per fault type (not scored):")
    for acc in report.per_type:
        classes = Counter(c.fault_class or "none" for c in report.cases if c.fault_type == acc.group)
        lines.append(f"  {acc.group:<16}" + ", ".join(f"{k} {v}" for k, v in classes.most_common()))
    inner = [c.inner_hit for c in report.cases if c.inner_hit is not None]
    if inner:
        lines.append(f"  inner level at rank 1 (lenient: the evidence names a labelled marker or resource): "
                     f"{sum(inner)}/{len(inner)}")
    inconclusive = sum(c.inconclusive for c in report.cases)
    lines.append(f"  marked inconclusive (runner-up within 20 % or weak evidence): {inconclusive}")
    lines += [
        "",
        f"engine seconds per case: mean {report.seconds_mean:.3f}, max {report.seconds_max:.3f} "
        f"(loading a case: mean {report.load_seconds_mean:.3f})",
        f"statistical pass: {report.spans_per_second:,.0f} spans/s; building its columns (span tree, "
        f"self times, templates of {report.log_lines:,} log lines): {report.ingest_spans_per_second:,.0f} spans/s",
        f"  (process CPU time on one core, {report.span_pass_spans:,} spans incl. baselines)",
        f"peak memory: {report.peak_rss_mb:.1f} MB RSS (process, with the dataset's caches); engine alone "
        f"{report.engine_peak_mb:.1f} MB (tracemalloc, largest case: {report.engine_peak_spans:,} spans)", "",
    ]
    missed = report.missed
    lines.append(f"not at rank 1 ({len(missed)}):" if missed else "every case at rank 1")
    for c in missed:
        where = f"rank {c.rank}" if c.rank else "missed"
        note = f" error: {c.error}" if c.error else f" top: {', '.join(c.top[:3])}"
        lines.append(f"  {c.case_id} {c.fault_type:<15} truth {c.truth}: {where};{note}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sre_space.bench.rca", description=__doc__)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--format", dest="fmt", default="nezha", choices=FORMATS)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        report = run(args.directory, args.fmt, args.limit)
    except SREError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(report.model_dump_json(indent=2) if args.json else render(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
