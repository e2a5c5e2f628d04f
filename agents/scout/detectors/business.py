"""Business SLIs from Kafka and the lag of the fleet's consumer groups.

Two halves, because the counting is spread over Scout processes and the verdict is not:
- ``Tally``: the evaluation path of every record (size check, JSON decode, the declared type
  field, a counter increment in a per-second bucket). Malformed, oversized and undeclared
  records are counted and skipped, never raised. This is the path the throughput goal is about.
- ``evaluate_sli`` / ``assess_lag``: the leader's verdicts over the counts of all partitions
  (``ScoutState``) and the fetch high watermarks. Lag is ``high watermark - committed offset``
  summed over partitions; high watermarks come from Scout's own fetch responses because tansu's
  ListOffsets(latest) is wrong (DESIGN §8.1).
"""

from __future__ import annotations

import enum
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from agents.scout.bus import GroupOffsets
from agents.scout.state import Partition, PartitionTally, ScoutState
from agents.scout.symptoms import Check, CheckStatus, Clear, Clock, Detector, Signal, Symptom, sli_signal
from sre_space.errors import BackendUnavailable
from sre_space.models.scout import BusinessSLI, ConsumerGroupWatch, ScoutSettings

log = logging.getLogger(__name__)
CATCHING_UP = 200  # records Scout may be behind and still judge the newest seconds


class Skip(enum.StrEnum):
    MALFORMED = "malformed"  # not JSON, not an object, no string type field
    OVERSIZED = "oversized"
    UNDECLARED = "undeclared"  # a well-formed event of a type no SLI counts


class Tally:
    """Counts one poll's records per partition; ``declared`` maps topic → (type field, types)."""

    def __init__(self, declared: Mapping[str, tuple[str, frozenset[str]]], max_bytes: int) -> None:
        self.declared, self.max_bytes = declared, max_bytes
        self.partitions: dict[Partition, PartitionTally] = {}
        self.skips: dict[Skip, int] = dict.fromkeys(Skip, 0)
        self.last_skip: tuple[Skip, str, int, int] | None = None

    def add_records(self, topic: str, part: int, records: list[Any], now: float) -> None:
        """Count a partition's records (kafka-python ``ConsumerRecord``s, in offset order)."""
        if not records:
            return
        tally = self.partitions.get((topic, part))
        if tally is None:
            tally = self.partitions[(topic, part)] = PartitionTally(first=records[0].offset, next=records[0].offset)
        field, types = self.declared.get(topic, ("type", frozenset()))
        counts = tally.counts
        fallback = int(now)
        loads, max_bytes = json.loads, self.max_bytes
        for record in records:
            value = record.value
            reason: Skip | None = None
            if value is None or len(value) > max_bytes:
                reason = Skip.OVERSIZED if value is not None else Skip.MALFORMED
            else:
                try:
                    event = loads(value)
                    etype = event.get(field) if type(event) is dict else None
                except ValueError:  # json.JSONDecodeError and UnicodeDecodeError
                    etype = None
                if type(etype) is not str:
                    reason = Skip.MALFORMED
                elif etype not in types:
                    reason = Skip.UNDECLARED
                else:
                    ts = record.timestamp
                    key = (ts // 1000 if ts and ts > 0 else fallback, etype)
                    counts[key] = counts.get(key, 0) + 1
            if reason is not None:
                tally.skipped += 1
                self.skips[reason] += 1
                if reason is not Skip.UNDECLARED:
                    self.last_skip = (reason, topic, part, record.offset)
        tally.evaluated += len(records)
        tally.next = records[-1].offset + 1

    @property
    def evaluated(self) -> int:
        return sum(t.evaluated for t in self.partitions.values())


class SkipLog:
    """A log line per skipped record, at most one a second (with how many were folded into it),
    so that a flood of garbage cannot flood the log."""

    def __init__(self, every_s: float = 1.0) -> None:
        self.every_s, self._last, self._folded = every_s, 0.0, 0

    def note(self, tally: Tally) -> None:
        bad = tally.skips[Skip.MALFORMED] + tally.skips[Skip.OVERSIZED]
        if not bad or tally.last_skip is None:
            return
        now = time.monotonic()
        if now - self._last < self.every_s:
            self._folded += bad
            return
        reason, topic, part, offset = tally.last_skip
        more = bad - 1 + self._folded
        log.warning("skipped a %s record on %s[%d] at offset %d%s", reason.value, topic, part, offset,
                    f" (and {more} more malformed/oversized since the last report)" if more else "")
        self._last, self._folded = now, 0


def sli_window(sli: BusinessSLI, now: float) -> tuple[int, int]:
    """Buckets [start, end) the SLI is judged on: ``window_s`` ending ``settle_s`` ago."""
    end = int(now - sli.settle_s)
    return end - int(sli.window_s), end


def evaluate_sli(sli: BusinessSLI, counts: Mapping[str, int], now: float) -> Symptom | Clear | None:
    """The verdict on one business SLI from the event counts of its window (None: too few events)."""
    total = sum(counts.get(t, 0) for t in sli.total)
    if total < sli.min_events:
        return None
    signal = sli_signal(sli.name)
    if sli.good:
        good = sum(counts.get(t, 0) for t in sli.good)
        ratio, bound = min(good / total, 1.0), sli.min_good_ratio or 0.0
        breached, words = ratio < bound, f"{'+'.join(sli.good)} / {'+'.join(sli.total)}"
    else:
        bad = sum(counts.get(t, 0) for t in sli.bad)
        ratio, bound = bad / total, sli.max_bad_ratio if sli.max_bad_ratio is not None else 1.0
        breached, words = ratio > bound, f"{'+'.join(sli.bad)} / {'+'.join(sli.total)}"
    if not breached:
        return Clear(service=sli.service, signal=signal, at=now)
    side = "below" if sli.good else "above"
    return Symptom(
        service=sli.service, signal=signal, detector=Detector.BUSINESS, at=now, value=round(ratio, 4),
        threshold=bound, severity=sli.severity,
        summary=f"business SLI {sli.name} ({words}) is {ratio:.0%} over {sli.window_s:g}s, {side} {bound:.0%}",
        evidence={"window_s": sli.window_s, "counts": dict(counts), "total": total},
    )


def assess_lag(
    watch: ConsumerGroupWatch, highwaters: Mapping[int, int], committed: Mapping[int, int] | None, now: float
) -> Symptom | Clear | None:
    """Lag of one consumer group (None when the group or the high watermarks are unknown)."""
    if committed is None or not highwaters:
        return None
    per_partition = {p: max(0, hw - committed.get(p, 0)) for p, hw in highwaters.items()}
    lag = sum(per_partition.values())
    if lag <= watch.max_lag:
        return Clear(service=watch.service, signal=Signal.CONSUMER_LAG, at=now)
    return Symptom(
        service=watch.service, signal=Signal.CONSUMER_LAG, detector=Detector.BUSINESS, at=now, value=lag,
        threshold=watch.max_lag, severity=watch.severity,
        summary=f"consumer group {watch.group} is {lag} records behind on {watch.topic} (limit {watch.max_lag})",
        evidence={"group": watch.group, "topic": watch.topic, "lag_by_partition": per_partition},
    )


def declared_types(slis: list[BusinessSLI]) -> dict[str, tuple[str, frozenset[str]]]:
    """Topic → (type field, every type some SLI counts there)."""
    out: dict[str, tuple[str, set[str]]] = {}
    for sli in slis:
        for topic in sli.topics:
            field, types = out.setdefault(topic, (sli.type_field, set()))
            types.update(sli.types)
    return {t: (f, frozenset(ts)) for t, (f, ts) in out.items()}



class BusinessDetector:
    """The leader's check of every declared business SLI and watched consumer group."""

    detector = Detector.BUSINESS

    def __init__(self, cfg: ScoutSettings, state: ScoutState, offsets: Callable[[], GroupOffsets | None],
                 clock: Clock) -> None:
        self.cfg, self.state, self._offsets, self.clock = cfg, state, offsets, clock

    def check(self) -> Check:
        now = self.clock()
        results: list[Symptom | Clear | None] = []
        detail = ""
        for sli in self.cfg.business_slis:
            # While Scout's consumers catch up, the newest buckets are incomplete (one topic may be
            # counted further than the other): no verdict until the backlog is small.
            behind = self.state.backlog(sli.topics, now - 10 * self.cfg.metrics_interval_s)
            if behind > CATCHING_UP:
                detail = f"catching up: {behind} records behind"
                continue
            start, end = sli_window(sli, now)
            results.append(evaluate_sli(sli, self.state.type_counts(sli.topics, start, end), now))
        offsets = self._offsets()
        for watch in self.cfg.consumer_groups:
            # high watermarks older than this come from a consumer that is gone or stuck
            highwaters = self.state.highwaters(watch.topic, now - 10 * self.cfg.metrics_interval_s)
            committed = None
            if offsets is not None:
                try:
                    committed = offsets.committed(watch.group, watch.topic)
                except BackendUnavailable as exc:
                    detail = str(exc)
            results.append(assess_lag(watch, highwaters, committed, now))
        symptoms = [r for r in results if isinstance(r, Symptom)]
        clears = [r for r in results if isinstance(r, Clear)]
        status = CheckStatus.OK if symptoms or clears else CheckStatus.NO_DATA
        return Check(detector=self.detector, at=now, status=status, symptoms=symptoms, clears=clears, detail=detail)
