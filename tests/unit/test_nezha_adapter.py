"""The Nezha-format adapter on the shared Train Ticket day, and the RCA benchmark's scoring."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agents.brain.datasets.files import service_of
from agents.brain.datasets.nezha import NezhaDataset
from sre_space.bench.rca import accuracy, inner_hit, rank_of, render, run
from sre_space.errors import ConfigError
from sre_space.models.diagnosis import Candidate, Diagnosis, Evidence, EvidenceKind, FaultClass
from tests.conftest import SHARED

NEZHA_TT = SHARED / "datasets" / "nezha-tt"
pytestmark = pytest.mark.skipif(not NEZHA_TT.is_dir(), reason=f"{NEZHA_TT} is not present")


@pytest.fixture(scope="module")
def dataset() -> NezhaDataset:
    return NezhaDataset(NEZHA_TT)


def _us(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()) * 1_000_000


def test_cases_and_labels(dataset: NezhaDataset) -> None:
    refs = dataset.cases()
    labels = dataset.labels()
    assert dataset.days == ["2023-01-29"]
    assert len(refs) == len(labels) == 28
    # inject_time (UTC), not inject_timestamp (8 h off on this day)
    assert refs[0].inject_us == _us("2023-01-29 08:43:04")
    kinds = [labels[r.case_id].fault_type for r in refs]
    assert (kinds.count("return"), kinds.count("exception"), kinds.count("cpu_contention")) == (11, 13, 4)
    first = labels[refs[0].case_id]
    assert (first.service, first.instance) == ("ts-contacts-service", "ts-contacts-service-866bd68c97-xcqfx")
    assert first.inner == "c.s.ContactsServiceImpl#31_c.s.ContactsServiceImpl#34"
    assert labels[refs[-1].case_id].inner == "CpuUsageRate(%)"


def test_case_windows(dataset: NezhaDataset) -> None:
    ref = dataset.cases()[3]  # ts-basic-service, 09:03:53
    case = dataset.load(ref)
    inc, base = case.incident, case.baseline
    assert inc.start_us == ref.inject_us and base.end_us <= ref.inject_us
    starts: dict[str, int] = {}
    for s in inc.spans:
        starts[s.trace_id] = min(starts.get(s.trace_id, s.start_us), s.start_us)
    assert min(starts.values()) >= ref.inject_us  # whole traces, started after the injection
    assert {s.trace_id for s in inc.spans}.isdisjoint({s.trace_id for s in base.spans})
    # the fault-free window of construct_data is the span baseline
    assert _us("2023-01-29 08:48:00") <= base.start_us and base.end_us <= _us("2023-01-29 08:52:00")
    assert len({(s.trace_id, s.span_id) for s in inc.spans}) == len(inc.spans)
    services = {s.service for s in inc.spans}
    assert "ts-basic-service" in services and not any(s.endswith("46997") for s in services)
    assert inc.logs and all(ln.trace_id in starts for ln in inc.logs)
    assert {m.name for m in inc.metrics} >= {"CpuUsageRate(%)", "MemoryUsage(Mi)"}
    assert all(ref.inject_us <= m.time_us < inc.end_us for m in inc.metrics)
    assert all(m.time_us < ref.inject_us for m in base.metrics)
    levels = {ln.level for ln in inc.logs}
    assert {"INFO", "ERROR"} <= levels


@pytest.mark.parametrize(("pod", "service"), [
    ("ts-contacts-service-866bd68c97-xcqfx", "ts-contacts-service"),  # deployment pod
    ("frontend-579b9bff58-t2dbm", "frontend"),
    ("redis-cart-0", "redis-cart"),  # statefulset pod
    ("checkout", "checkout"),  # not a pod name: kept
])
def test_pods_map_to_services_by_name(pod: str, service: str) -> None:
    assert service_of(pod) == service


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt", newline="") as handle:
            handle.write(text)
    else:
        path.write_text(text)


def test_plain_and_gzipped_csv_and_any_number_of_days(tmp_path: Path) -> None:
    trace = ("TraceID,SpanID,ParentID,PodName,OperationName,StartTimeUnixNano,EndTimeUnixNano,Duration\n"
             "t1,s1,root,web-5f55b6cf68-77cfw,/home,{ns},{end},1000\n")
    for day, ext, hour in (("2024-01-01", ".csv", "10"), ("2024-01-02", ".csv.gz", "11")):
        ns = _us(f"{day} {hour}:00:30") * 1000
        root = tmp_path / "rca_data" / day
        (root).mkdir(parents=True)
        (root / f"{day}-fault_list.json").write_text(json.dumps({hour: [{
            "inject_time": f"{day} {hour}:00:10", "inject_timestamp": "0",
            "inject_pod": "web-5f55b6cf68-77cfw", "inject_type": "exception"}]}))
        _write(root / "trace" / f"{hour}_01_trace{ext}", trace.format(ns=ns, end=ns + 10**6))
    data = NezhaDataset(tmp_path)
    assert data.days == ["2024-01-01", "2024-01-02"]
    cases = [data.load(ref) for ref in data.cases()]
    assert [len(c.incident.spans) for c in cases] == [1, 1]
    assert cases[1].incident.spans[0].service == "web"
    assert all(not c.baseline.spans for c in cases)  # no construct_data, nothing before: empty baseline


def test_not_a_nezha_directory_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a Nezha-format directory"):
        NezhaDataset(tmp_path)


def _diagnosis(*scores: tuple[str, float]) -> Diagnosis:
    return Diagnosis(candidates=[Candidate(service=s, score=v, fault_class=FaultClass.ERRORS) for s, v in scores])


@pytest.mark.parametrize(("scores", "truth", "rank"), [
    ([("a", 5.0), ("b", 3.0)], "a", 1),
    ([("a", 5.0), ("b", 3.0)], "b", 2),
    ([("a", 5.0), ("b", 5.0), ("c", 1.0)], "b", 2),  # tie: pessimistic
    ([("b", 5.0), ("a", 5.0)], "b", 2),  # tie, listed first: still pessimistic
    ([("a", 5.0)], "z", None),  # absent: a miss
])
def test_rank_counts_ties_against_the_truth(scores: list[tuple[str, float]], truth: str, rank: int | None) -> None:
    assert rank_of(_diagnosis(*scores), truth) == rank


@pytest.mark.parametrize(("detail", "signal", "inner", "hit"), [
    ("missing: log INFO r.c.RouteController#53 (97% -> 0%)", "call_mix",
     "RouteController.queryByIds start_r.c.RouteController#53", True),  # one marker named
    ("new: log ERROR c.s.ContactsServiceImpl#37", "call_mix",
     "c.s.ContactsServiceImpl#31_c.s.ContactsServiceImpl#34", False),  # a nearby line is not the region
    ("rose to 99", "metric:CpuUsage(m)", "CpuUsageRate(%)", True),  # same resource, other series
    ("rose to 99", "metric:MemoryUsage(Mi)", "CpuUsageRate(%)", False),
    ("anything", "call_mix", None, None),  # no inner label
])
def test_inner_level_match(detail: str, signal: str, inner: str | None, hit: bool | None) -> None:
    evidence = Evidence(kind=EvidenceKind.SPAN, signal=signal, service="s", detail=detail)
    diagnosis = Diagnosis(candidates=[Candidate(service="s", score=1, fault_class=FaultClass.ERRORS,
                                                evidence=[evidence])])
    assert inner_hit(diagnosis, "s", inner) is hit
    if inner:
        assert inner_hit(diagnosis, "other", inner) is False


def test_accuracy_on_hand_made_ranks() -> None:
    acc = accuracy("all", [1, 2, None, 5, 3])
    assert acc.ac == [0.2, 0.4, 0.6, 0.6, 0.8]
    assert acc.avg5 == pytest.approx(0.52)
    assert accuracy("none", []).ac == [0.0] * 5


def test_benchmark_report_is_consistent() -> None:
    report = run(NEZHA_TT, "nezha", limit=3)
    assert report.overall.cases == len(report.cases) == 3
    ranks = [c.rank for c in report.cases]
    assert report.overall == accuracy("all", ranks)
    assert sum(t.cases for t in report.per_type) == 3
    assert all(c.truth == "ts-contacts-service" and c.fault_type == "return" for c in report.cases)
    assert all(c.error is None and c.seconds > 0 and c.spans > 0 for c in report.cases)
    assert report.seconds_max >= report.seconds_mean > 0
    assert report.spans_per_second > 0 and report.ingest_spans_per_second > 0
    assert report.peak_rss_mb > 0 and report.engine_peak_mb > 0
    assert report.engine_peak_spans > max(c.spans for c in report.cases)  # incident + baseline of the largest
    assert {c.case_id for c in report.missed} == {c.case_id for c in report.cases if c.rank != 1}
    text = render(report)
    assert "AC@1" in text and "Avg@5" in text and "return" in text


def test_unknown_format_is_one_clear_error() -> None:
    with pytest.raises(ConfigError, match="unknown dataset format"):
        run(NEZHA_TT, "jaeger")
