"""Storage and search semantics of the trace store, on its SQLite file directly (no HTTP)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sre_space.stack.tracestore.ingest import NO_SERVICE
from sre_space.stack.tracestore.params import Search
from sre_space.stack.tracestore.reader import SpanReader
from sre_space.stack.tracestore.render import Renderer
from sre_space.stack.tracestore.store import SpanStore
from tests.unit.otlp_requests import MS, T0, request, span

SERVER, INTERNAL, CLIENT = 2, 1, 3
LONG = "SELECT " + "x" * 300  # past the index's length limit: stored by digest


@pytest.fixture
def store(tmp_path: Path) -> tuple[SpanStore, SpanReader]:
    st = SpanStore(tmp_path / "t.db")
    st.write([
        request("quote-service", [
            span(1, 1, "POST /api/quotes", 0, 30, kind=SERVER, status=(2, ""),
                 attributes={"http.response.status_code": 500, "http.route": "/api/quotes"}),
            span(1, 2, "price.calculate", 5, 20, parent=1, kind=INTERNAL, status=(2, "OOMKilled"),
                 attributes={"quote.premium": 412.5, "quote.cached": False, "quote.factors": ["age", "zip"],
                             "db.statement": LONG},
                 events=[("exception", {"exception.type": "MemoryError"})]),
            span(2, 3, "POST /api/quotes", 100, 5, kind=SERVER, status=(1, ""),
                 attributes={"http.response.status_code": 201}),
        ], resource={"service.version": "2.0.1"}, scope_attrs={"team": "pricing"}),
        request("frontend", [
            span(1, 9, "POST /api/quotes", -1, 32, kind=CLIENT),
            span(3, 4, "GET /quote", 200, 50, kind=SERVER, links=[(1, 1)]),
        ], resource={"service.version": "1.4.2"}, scope="insurecloud.frontend", scope_version="1.0"),
    ])
    reader = SpanReader(st.path)
    yield st, reader
    reader.close()
    st.close()


def found(reader: SpanReader, service: str = "quote-service", **kw: object) -> set[int]:
    q = Search(service, T0 - 1000 * MS, T0 + 1000 * MS, **kw)  # type: ignore[arg-type]
    return {int.from_bytes(t, "big") for t in reader.find_trace_ids(q)}


@pytest.mark.parametrize(("tags", "traces"), [
    ({}, {1, 2}),                                          # every trace with a quote-service span
    ({"http.response.status_code": "500"}, {1}),           # int attribute compared as text
    ({"quote.premium": "412.5"}, {1}),                     # double as the tag shows it
    ({"quote.cached": "false"}, {1}),                      # bool
    ({"quote.factors": '["age","zip"]'}, {1}),             # array as its JSON text
    ({"db.statement": LONG}, {1}),                         # long value, indexed by digest
    ({"exception.type": "MemoryError"}, {1}),              # event attribute
    ({"event": "exception"}, {1}),                         # event name (Jaeger's log field)
    ({"team": "pricing"}, {1, 2}),                         # scope attribute
    ({"service.version": "2.0.1"}, {1, 2}),                # resource attribute
    ({"service.version": "1.4.2"}, set()),                 # another service's resource
    ({"error": "true"}, {1}),                              # status ERROR
    ({"otel.status_code": "OK"}, {2}),
    ({"otel.status_code": "ERROR", "span.kind": "internal"}, {1}),  # both on one span
    ({"otel.status_description": "OOMKilled"}, {1}),
    ({"otel.scope.name": "insurecloud.quote"}, {1, 2}),
    ({"span.kind": "client"}, set()),
    ({"span.kind": "sideways"}, set()),                    # not a kind: nothing, not an error
    ({"http.route": "/api/quotes", "quote.cached": "false"}, set()),  # tags must be on ONE span
    ({"nobody.has": "this"}, set()),
])
def test_tag_search(store: tuple[SpanStore, SpanReader], tags: dict[str, str], traces: set[int]) -> None:
    assert found(store[1], tags=tags) == traces


def test_other_conditions(store: tuple[SpanStore, SpanReader]) -> None:
    reader = store[1]
    assert found(reader, operation="price.calculate") == {1}
    assert found(reader, min_duration_ns=20 * MS) == {1}                # 30 ms server span, 20 ms calc
    assert found(reader, max_duration_ns=10 * MS) == {2}
    assert found(reader, "frontend", tags={"span.kind": "server"}) == {3}
    assert found(reader, limit=1) == {2}                                # newest span first
    late = Search("quote-service", T0 + 50 * MS, T0 + 1000 * MS)
    assert reader.find_trace_ids(late) == [(2).to_bytes(16, "big")]


def test_whole_trace_across_services_and_links(store: tuple[SpanStore, SpanReader]) -> None:
    reader = store[1]
    one, three = (1).to_bytes(16, "big"), (3).to_bytes(16, "big")
    assert sorted(s.service for s in reader.spans([one])[one]) == ["frontend", "quote-service", "quote-service"]
    link = Renderer(reader.resource, reader.scope).trace(three, reader.spans([three])[three])
    ref = link["spans"][0]["references"]
    # Jaeger prints a trace id whose high half is zero with 16 digits, not 32.
    assert ref == [{"refType": "FOLLOWS_FROM", "traceID": "0000000000000001", "spanID": "0000000000000001"}]
    assert link["traceID"] == "0000000000000003"
    tags = {t["key"]: t["value"] for t in link["spans"][0]["tags"]}
    assert tags["otel.scope.version"] == "1.0" and tags["span.kind"] == "server"


def test_services_operations_dependencies(store: tuple[SpanStore, SpanReader]) -> None:
    reader = store[1]
    assert sorted(reader.services()) == ["frontend", "quote-service"]
    assert sorted(reader.operations("quote-service")) == [("POST /api/quotes", "server"),
                                                          ("price.calculate", "internal")]
    assert reader.operations("quote-service", "internal") == [("price.calculate", "internal")]
    assert reader.operations("quote-service", "sideways") == []
    # frontend client 9 has no parent here; quote span 1 has none either; 2 → 1 is within a service.
    assert reader.dependencies(T0 - 1000 * MS, T0 + 1000 * MS) == []


def test_dependencies_count_cross_service_calls(tmp_path: Path) -> None:
    st = SpanStore(tmp_path / "t.db")
    st.write([request("frontend", [span(7, 1, "GET /", 0, 9, kind=SERVER), span(7, 2, "call", 1, 8, parent=1)]),
              request("quote-service", [span(7, 3, "POST", 2, 5, parent=2), span(7, 4, "db", 3, 1, parent=3)])])
    reader = SpanReader(st.path)
    assert reader.dependencies(T0 - MS, T0 + 10 * MS) == [("frontend", "quote-service", 1)]
    reader.close()
    st.close()


def test_rejects_malformed_ids_and_keeps_the_rest(tmp_path: Path) -> None:
    st = SpanStore(tmp_path / "t.db")
    bad_trace, bad_span = span(0, 1, "zero trace id"), span(5, 2, "short span id")
    bad_span.span_id = b"\x01\x02"
    results = st.write([request("svc", [span(5, 1, "fine"), bad_trace, bad_span]), request(None, [span(6, 1, "x")])])
    assert [(r.accepted, r.rejected) for r in results] == [(1, 2), (1, 0)]
    assert "trace_id" in results[0].message
    reader = SpanReader(st.path)
    assert sorted(reader.services()) == [NO_SERVICE, "svc"]  # Jaeger's name for a missing service.name
    reader.close()
    st.close()


def test_reopening_keeps_data_and_ids(tmp_path: Path) -> None:
    st = SpanStore(tmp_path / "t.db")
    st.write([request("svc", [span(5, 1, "a")])])
    st.close()
    again = SpanStore(tmp_path / "t.db")
    again.write([request("svc", [span(6, 1, "b")])])
    reader = SpanReader(again.path)
    assert {int.from_bytes(t, "big") for t in reader.find_trace_ids(Search("svc", T0 - MS, T0 + MS))} == {5, 6}
    reader.close()
    again.close()
