"""Retention: the store forgets by age and by size, whole writes at a time, with an injected clock."""

from __future__ import annotations

from pathlib import Path

from sre_space.stack.tracestore import store as store_mod
from sre_space.stack.tracestore.params import Search
from sre_space.stack.tracestore.reader import SpanReader
from sre_space.stack.tracestore.store import Retention, SpanStore
from tests.unit.otlp_requests import MS, T0, request, span


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def traces(reader: SpanReader, service: str = "svc") -> set[int]:
    return {int.from_bytes(t, "big") for t in reader.find_trace_ids(Search(service, T0 - MS, T0 + 99 * MS))}


def test_age_limit(tmp_path: Path) -> None:
    clock = Clock()
    st = SpanStore(tmp_path / "t.db", Retention(max_age_s=60, max_spans=10**6), clock)
    reader = SpanReader(st.path)
    st.write([request("svc", [span(1, 1, "old", attributes={"k": "v"})])])
    clock.now += 50
    st.write([request("svc", [span(2, 1, "new", attributes={"k": "v"})])])
    assert st.enforce_retention() == 0                  # nothing is 60 s old yet
    clock.now += 20
    assert st.enforce_retention() == 1                  # the first write is 70 s old
    assert st.enforce_retention() == 0
    assert traces(reader) == {2}
    assert traces(reader) == {int.from_bytes(t, "big") for t in reader.find_trace_ids(
        Search("svc", T0 - MS, T0 + 99 * MS, tags={"k": "v"}))}  # the tag index agrees
    assert reader.operations("svc") == [("new", "")]    # operations without spans are gone
    reader.close()
    st.close()


def test_size_limit_deletes_whole_writes_in_chunks(tmp_path: Path, monkeypatch: object) -> None:
    monkeypatch.setattr(store_mod, "DELETE_CHUNK", 2)  # type: ignore[attr-defined]
    st = SpanStore(tmp_path / "t.db", Retention(max_age_s=10**9, max_spans=5), Clock())
    reader = SpanReader(st.path)
    for t in range(1, 6):  # five writes of two spans
        st.write([request("svc", [span(t, 1, "a", start_ms=t), span(t, 2, "b", start_ms=t)])])
    deleted = []
    while (n := st.enforce_retention()) > 0:
        deleted.append(n)
    assert deleted == [2, 2]                             # a chunk at a time, whole writes only
    assert traces(reader) == {3, 4, 5}                   # 6 spans: never fewer than the limit
    reader.close()
    st.close()


def test_empty_store_has_nothing_to_delete(tmp_path: Path) -> None:
    st = SpanStore(tmp_path / "t.db", Retention(max_age_s=0, max_spans=0), Clock())
    assert st.enforce_retention() == 0
    st.close()
