"""The Jaeger client's mapping of Jaeger JSON onto ``Span`` (on the real fixtures) and its error
translation at the httpx boundary (through httpx's transport seam)."""

from __future__ import annotations

import json

import httpx
import pytest

from sre_space.adapters.traces.jaeger import JaegerQuery, parse_trace
from sre_space.errors import BackendError, BackendRejected, BackendUnavailable
from sre_space.models.telemetry import SpanKind
from tests.conftest import SHARED

FIXTURES = SHARED / "fixtures" / "jaeger"


def load(name: str) -> dict:  # type: ignore[type-arg]
    return json.loads((FIXTURES / name).read_text())  # type: ignore[no-any-return]


def test_error_trace_fixture() -> None:
    t = parse_trace(load("trace-error.json")["data"][0])
    assert [s.start_us for s in t.spans] == sorted(s.start_us for s in t.spans)  # Jaeger sends them unordered
    assert t.root is not None and t.root.operation == "GET /quote" and t.root.parent_id is None
    by_op = {(s.service, s.operation): s for s in t.spans}
    calc = by_op["quote-service", "price.calculate"]
    assert (calc.kind, calc.error, calc.status_message) == (SpanKind.INTERNAL, True, "OOMKilled")
    assert calc.parent_id == by_op["quote-service", "POST /api/quotes"].span_id
    assert calc.attributes == {"otel.scope.name": "insurecloud.quote", "quote.cached": False,
                               "quote.premium": 412.5, "quote.risk_factors": '["age","zip"]'}
    assert calc.instance == "aa6a31cc-7957-4ed8-b293-82fcf113a0c3"
    db = by_op["quote-service", "SELECT quotes"]
    assert (db.kind, db.error, db.attributes["db.rows"]) == (SpanKind.CLIENT, False, 3)
    assert t.services == {"frontend", "quote-service"}


def test_link_is_not_a_parent() -> None:
    (span,) = parse_trace(load("trace-link.json")["data"][0]).spans
    assert span.parent_id is None and span.kind == SpanKind.PRODUCER


def test_short_trace_ids_are_padded() -> None:
    doc = load("trace-link.json")["data"][0]
    doc["traceID"] = doc["spans"][0]["traceID"] = "0000000000000001"
    assert parse_trace(doc).trace_id == "0" * 31 + "1"


def client(status: int, body: bytes, ctype: str = "application/json") -> JaegerQuery:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, content=body,
                                                                   headers={"Content-Type": ctype}))
    return JaegerQuery("http://jaeger.invalid", transport=transport)


@pytest.mark.parametrize(("status", "body", "error", "message"), [
    (503, b"upstream down", BackendUnavailable, "failed with 503: upstream down"),
    (500, b'{"data":null,"errors":[{"code":500,"msg":"badger closed"}]}', BackendUnavailable, "badger closed"),
    (400, b'{"data":null,"errors":[{"code":400,"msg":"parameter \'service\' is required"}]}', BackendRejected,
     "parameter 'service' is required"),
    (200, b"<html>not jaeger</html>", BackendError, "did not answer with Jaeger's JSON envelope"),
])
def test_errors_are_translated(status: int, body: bytes, error: type[Exception], message: str) -> None:
    with client(status, body) as c, pytest.raises(error, match=message):
        c.services()


def test_dependencies_drop_calls_within_a_service() -> None:
    with client(200, json.dumps(load("dependencies.json")).encode()) as c:  # memory backend's answer
        assert [(d.parent, d.child, d.call_count) for d in c.dependencies(1, 1)] == [("frontend", "quote-service", 2)]


def test_find_traces_leaves_out_traces_already_read() -> None:
    body = load("search-service.json")
    ids = [doc["traceID"] for doc in body["data"]]
    assert len(set(ids)) >= 2, "the fixture should hold several traces"
    with client(200, json.dumps(body).encode()) as c:
        every = c.find_traces("frontend", 0, 1, limit=50)
        rest = c.find_traces("frontend", 0, 1, limit=50, exclude={every[0].trace_id})
    assert len(every) == len(set(ids))
    assert {t.trace_id for t in rest} == {t.trace_id for t in every} - {every[0].trace_id}
