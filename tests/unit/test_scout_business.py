"""Business SLIs: the per-record evaluation path (garbage included), the SLI and lag verdicts, and
the shared state's exactly-once bookkeeping (compare-and-set on offsets, fencing, rewinds)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from agents.scout.detectors.business import Skip, Tally, assess_lag, declared_types, evaluate_sli, sli_window
from agents.scout.state import PartitionTally, ScoutState
from agents.scout.symptoms import Clear, Symptom
from sre_space.models.scout import BusinessSLI, ConsumerGroupWatch, ScoutSettings, default_business_slis
from tests.unit.scout_helpers import T0

CONVERSION, FAILURES = default_business_slis()
QUOTES, POLICIES = "insurecloud.quotes", "insurecloud.policies"


@dataclass
class Record:
    offset: int
    value: bytes | None
    timestamp: int = int(T0 * 1000)


def event(etype: str, **extra: object) -> bytes:
    return json.dumps({"type": etype, "quote_id": "q1", **extra}).encode()


def test_tally_counts_declared_types_and_skips_garbage() -> None:
    tally = Tally(declared_types([CONVERSION, FAILURES]), max_bytes=1024)
    records = [
        Record(0, event("quote_requested")),
        Record(1, b"\x00\xffnot json"),  # not JSON
        Record(2, b'["a", "list"]'),  # JSON, not an object
        Record(3, b'{"kind": "quote_requested"}'),  # no type field
        Record(4, b'{"type": 42}'),  # type is not a string
        Record(5, event("quote_requested", padding="x" * 2000)),  # oversized
        Record(6, None),  # a tombstone
        Record(7, event("newsletter_sent")),  # well formed, but no SLI counts it
        Record(8, event("quote_requested")),
    ]
    tally.add_records(QUOTES, 2, records, T0)
    part = tally.partitions[(QUOTES, 2)]
    assert (part.first, part.next, part.evaluated, part.skipped) == (0, 9, 9, 7)
    assert part.counts == {(int(T0), "quote_requested"): 2}
    assert tally.skips == {Skip.MALFORMED: 5, Skip.OVERSIZED: 1, Skip.UNDECLARED: 1}


def counts(requested: int, purchased: int = 0, failed: int = 0) -> dict[str, int]:
    return {"quote_requested": requested, "policy_purchased": purchased, "policy_failed": failed}


@pytest.mark.parametrize(
    ("sli", "window", "verdict"),
    [
        (CONVERSION, counts(20, purchased=19), Clear),  # 95% converts
        (CONVERSION, counts(20, purchased=5, failed=15), Symptom),  # 25% < 80%
        (CONVERSION, counts(20, purchased=25), Clear),  # trailing outcomes: capped at 100%
        (CONVERSION, counts(5, purchased=0), None),  # fewer than 10 quotes: no verdict
        (FAILURES, counts(0, purchased=18, failed=2), Clear),  # 10% failed
        (FAILURES, counts(0, purchased=10, failed=10), Symptom),  # 50% > 20%
    ],
)
def test_evaluate_sli(sli: BusinessSLI, window: dict[str, int], verdict: type | None) -> None:
    result = evaluate_sli(sli, window, T0)
    assert (type(result) if result is not None else None) is verdict
    if isinstance(result, Symptom):
        assert result.service == "policy-service" and result.signal == f"sli.{sli.name}"


def test_sli_window_leaves_the_newest_seconds_out() -> None:
    assert sli_window(CONVERSION, T0) == (int(T0) - 2 - 20, int(T0) - 2)


WATCH = ConsumerGroupWatch(group="policy-service", topic=QUOTES, service="policy-service", max_lag=100)


@pytest.mark.parametrize(
    ("highwaters", "committed", "verdict", "lag"),
    [
        ({0: 50, 1: 60}, {0: 50, 1: 58}, Clear, None),  # 2 behind
        ({0: 500, 1: 60}, {0: 300, 1: 0}, Symptom, 260),  # 200 + 60
        ({0: 500}, None, None, None),  # the group has no committed offsets (yet)
        ({}, {0: 5}, None, None),  # no fetch high watermarks (Scout has not read the topic)
    ],
)
def test_assess_lag(highwaters: dict[int, int], committed: dict[int, int] | None, verdict: type | None,
                    lag: int | None) -> None:
    result = assess_lag(WATCH, highwaters, committed, T0)
    assert (type(result) if result is not None else None) is verdict
    if isinstance(result, Symptom):
        assert result.value == lag and result.signal == "consumer_lag"


def tally(first: int, n: int, etype: str = "quote_requested") -> PartitionTally:
    return PartitionTally(first=first, next=first + n, counts={(int(T0), etype): n}, evaluated=n)


def test_state_counts_each_batch_once_and_fences_a_stale_member(tmp_path: Path) -> None:
    state = ScoutState(tmp_path / "state.db")
    tp = (QUOTES, 0)
    assert state.record("g", {tp: tally(0, 10)}, {tp: 10}, T0) == []
    assert state.positions("g", [tp]) == {tp: 10}
    # a member that lost the partition writes the batch it read before: fenced, not counted twice
    assert state.record("g", {tp: tally(0, 10)}, {tp: 10}, T0) == [tp]
    # the new owner continues where the state says
    assert state.record("g", {tp: tally(10, 5)}, {tp: 15}, T0) == []
    assert state.type_counts([QUOTES], int(T0), int(T0) + 1) == {"quote_requested": 15}
    assert state.totals("g") == (15, 0)
    assert state.backlog([QUOTES], T0 - 1) == 0


def test_state_rewind_after_the_broker_lost_its_data(tmp_path: Path) -> None:
    state = ScoutState(tmp_path / "state.db")
    tp = (QUOTES, 1)
    state.record("g", {tp: tally(0, 500)}, {tp: 500}, T0)
    state.rewind("g", *tp, 0)  # the embedded broker restarted empty
    assert state.record("g", {tp: tally(0, 3)}, {tp: 3}, T0) == []
    assert state.type_counts([QUOTES], 0, int(T0) + 1) == {"quote_requested": 503}


def test_state_prunes_old_buckets_and_samples(tmp_path: Path) -> None:
    state = ScoutState(tmp_path / "state.db")
    state.record("g", {(QUOTES, 0): tally(0, 4)}, {}, T0)
    state.add_samples([("slo", T0, 9.0, 10.0)])
    state.prune(T0 + 1)
    assert state.type_counts([QUOTES], 0, int(T0) + 2) == {}
    assert state.sample_sums("slo", 0) == (0.0, 0.0)


def test_settings_reject_a_business_slo_without_its_sli() -> None:
    with pytest.raises(ValueError, match="no business SLI named 'nope'"):
        ScoutSettings.model_validate({"slos": [{"name": "x", "service": "frontend", "kind": "business",
                                                "objective": 0.9, "sli": "nope"}]})
