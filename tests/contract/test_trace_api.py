"""Contract of the traces backend: the 24 real Jaeger v2.13 answers in ``fixtures/jaeger`` replayed.

The store receives the same three traces the fixtures were recorded from (the fixtures' own
``send_traces.py``, OpenTelemetry SDK + OTLP/HTTP exporter), then every fixture's query is asked
again. Ids, times and the SDK's instance id differ between runs, so traces are compared after
``normalize``: ids become labels (service:operation:kind), times become their types; everything
else (keys and their order, tags with types and values, sorting, processes, references, logs)
must be identical. Error answers must match byte for byte.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.conftest import SHARED
from tests.helpers import poll_until

FIXTURES = SHARED / "fixtures" / "jaeger"
VOLATILE = {"service.instance.id"}  # a uuid per SDK process
HEX32, HEX16 = re.compile(r"[0-9a-f]{32}"), re.compile(r"[0-9a-f]{16}")


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def fixture_ids() -> dict[str, str]:
    return {v: k for k, v in fixture("index-memory.json")["trace_ids"].items()}


def span_labels(traces: list[dict[str, Any]]) -> dict[str, str]:
    """spanID → "service:operation:kind" over the given traces."""
    labels = {}
    for t in traces:
        for s in t["spans"]:
            kind = next((g["value"] for g in s["tags"] if g["key"] == "span.kind"), "")
            labels[s["spanID"]] = f"{t['processes'][s['processID']]['serviceName']}:{s['operationName']}:{kind}"
    return labels


def _tags(tags: list[dict[str, Any]]) -> list[Any]:
    return [[t["key"], t["type"], "*" if t["key"] in VOLATILE else t["value"]] for t in tags]


def normalize(trace: dict[str, Any], labels: dict[str, str], trace_names: dict[str, str]) -> dict[str, Any]:
    """A v1 trace with ids and times replaced by what is stable between runs."""
    assert HEX32.fullmatch(trace["traceID"])
    assert sorted(trace["processes"]) == [f"p{i + 1}" for i in range(len(trace["processes"]))]
    spans = []
    for s in trace["spans"]:
        assert HEX16.fullmatch(s["spanID"]) and HEX32.fullmatch(s["traceID"])
        assert isinstance(s["startTime"], int) and isinstance(s["duration"], int)
        assert [t["key"] for t in s["tags"]] == sorted(t["key"] for t in s["tags"])
        process = trace["processes"][s["processID"]]
        spans.append({
            "keys": list(s),
            "label": labels[s["spanID"]],
            "trace": trace_names[s["traceID"]],
            "operationName": s["operationName"],
            "references": [[r["refType"], trace_names[r["traceID"]], labels[r["spanID"]]] for r in s["references"]],
            "tags": _tags(s["tags"]),
            "logs": [[list(log), type(log["timestamp"]).__name__, _tags(log["fields"])] for log in s["logs"]],
            "process": [process["serviceName"], list(process), _tags(process["tags"])],
            "warnings": s["warnings"],
        })
    return {"keys": list(trace), "trace": trace_names[trace["traceID"]], "warnings": trace["warnings"],
            "processes": len(trace["processes"]), "spans": sorted(spans, key=lambda s: s["label"])}


EXPECTED = {"ok": fixture("trace-ok.json"), "error": fixture("trace-error.json"), "audit": fixture("trace-link.json")}
_FIXTURE_TRACES = [t for doc in EXPECTED.values() for t in doc["data"]]
FIXTURE_LABELS, FIXTURE_NAMES = span_labels(_FIXTURE_TRACES), fixture_ids()


def expected(name: str) -> dict[str, Any]:
    return normalize(EXPECTED[name]["data"][0], FIXTURE_LABELS, FIXTURE_NAMES)


class Sent:
    """The three traces as sent to the store under test, with the window that holds them."""

    def __init__(self, api: httpx.Client, ids: dict[str, str], start_us: int) -> None:
        self.api, self.ids, self.start_us = api, ids, start_us
        self.names = {v: k for k, v in ids.items()}
        self.end_us = time.time_ns() // 1000 + 1_000_000
        self.labels = span_labels([api.get(f"/api/traces/{i}").json()["data"][0] for i in ids.values()])

    def window(self, **params: Any) -> dict[str, Any]:
        return {"start": self.start_us, "end": self.end_us, **params}

    def normalized(self, body: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {t["traceID"]: normalize(t, self.labels, self.names) for t in body["data"]}


@pytest.fixture(scope="module")
def sent(trace_store: Any) -> Any:
    start_us = time.time_ns() // 1000 - 1_000_000
    script = FIXTURES / "generate" / "send_traces.py"
    with script.open() as stdin:  # via stdin, as recorded: stack traces then say File "<stdin>"
        out = subprocess.run([sys.executable, "-", trace_store.otlp_endpoint], stdin=stdin,
                             capture_output=True, text=True, timeout=120, check=True)
    ids = json.loads(out.stdout.strip().splitlines()[-1])
    api = httpx.Client(base_url=trace_store.query_url, timeout=30)

    def all_visible() -> bool:
        return all(api.get(f"/api/traces/{i}").status_code == 200 for i in ids.values())

    poll_until(all_visible, "the three traces are readable through the query API", timeout=30)
    yield Sent(api, ids, start_us)
    api.close()


def _envelope(body: dict[str, Any]) -> None:
    assert list(body) == ["data", "total", "limit", "offset", "errors"]
    assert (body["limit"], body["offset"], body["errors"]) == (0, 0, None)


def test_services(sent: Sent) -> None:
    body = sent.api.get("/api/services").json()
    _envelope(body)
    assert set(fixture("services.json")["data"]) <= set(body["data"])
    assert body["total"] == len(body["data"])


@pytest.mark.parametrize(("name", "url"), [
    ("operations-legacy.json", "/api/services/quote-service/operations"),
    ("operations.json", "/api/operations?service=quote-service"),
    ("operations-server.json", "/api/operations?service=quote-service&spanKind=server"),
])
def test_operations(sent: Sent, name: str, url: str) -> None:
    body, want = sent.api.get(url).json(), fixture(name)
    _envelope(body)
    key = json.dumps
    assert sorted(map(key, body["data"])) == sorted(map(key, want["data"]))
    assert body["total"] == want["total"]


def test_search_by_service_returns_every_trace_of_it(sent: Sent) -> None:
    r = sent.api.get("/api/traces", params=sent.window(service="frontend", limit=20))
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    _envelope(body)
    assert body["total"] == 0
    got = sent.normalized(body)
    assert sorted(got.values(), key=lambda t: t["trace"]) == [expected(n) for n in ("audit", "error", "ok")]


def test_search_operation_min_duration_limit(sent: Sent) -> None:
    params = sent.window(service="quote-service", operation="price.calculate", limit=1, minDuration="15ms")
    got = list(sent.normalized(sent.api.get("/api/traces", params=params).json()).values())
    assert len(got) == 1  # both requests qualify; limit=1 keeps one, whichever the store likes
    assert got[0] == expected(got[0]["trace"])


@pytest.mark.parametrize("params", [
    {"tags": json.dumps({"http.response.status_code": "500"})},   # search-tags.json
    {"tags": json.dumps({"error": "true"})},                      # badger-search-tags-error-true.json
    {"tag": "http.response.status_code:500"},                     # the older repeated form
    {"tags": json.dumps({"exception.type": "MemoryError"})},      # an event attribute
    {"tags": json.dumps({"otel.status_code": "ERROR", "span.kind": "internal"})},  # derived tags
])
def test_tag_searches_find_the_error_trace(sent: Sent, params: dict[str, str]) -> None:
    got = sent.normalized(sent.api.get("/api/traces", params=sent.window(service="quote-service", limit=20,
                                                                         **params)).json())
    assert list(got.values()) == [expected("error")]


def test_resource_attribute_search(sent: Sent) -> None:
    params = sent.window(service="quote-service", tags=json.dumps({"service.version": "2.0.1"}))
    got = sent.normalized(sent.api.get("/api/traces", params=params).json())
    assert sorted(t["trace"] for t in got.values()) == ["error", "ok"]


def test_search_without_match_is_an_empty_list(sent: Sent) -> None:
    r = sent.api.get("/api/traces", params=sent.window(service="quote-service", limit=20, minDuration="1s"))
    assert r.status_code == 200 and r.json() == fixture("search-no-match.json")


def test_lookback_without_start(sent: Sent) -> None:
    body = sent.api.get("/api/traces", params={"service": "frontend", "limit": 50, "lookback": "1h"}).json()
    assert set(sent.ids.values()) <= {t["traceID"] for t in body["data"]}


@pytest.mark.parametrize(("name", "url"), [
    ("search-missing-service.json", "/api/traces?start=1795403910024290&end=1795404810024290"),
    ("search-bad-duration.json", "/api/traces?service=quote-service&minDuration=fast"),
    ("trace-not-found.json", "/api/traces/00000000000000000000000000000001"),
    ("trace-bad-id.json", "/api/traces/not-a-trace-id"),
])
def test_errors_match_jaeger(sent: Sent, name: str, url: str) -> None:
    r, index = sent.api.get(url), {q["file"]: q for q in fixture("index-memory.json")["queries"]}
    assert r.status_code == index[name]["status"]
    assert r.headers["content-type"] == index[name]["content_type"]
    assert r.json() == fixture(name)
    assert len(r.content) == index[name]["bytes_served"]


@pytest.mark.parametrize("name", ["ok", "error", "audit"])
def test_get_trace(sent: Sent, name: str) -> None:
    body = sent.api.get(f"/api/traces/{sent.ids[name]}").json()
    _envelope(body)
    assert list(sent.normalized(body).values()) == [expected(name)]


def test_dependencies_skip_calls_within_a_service(sent: Sent) -> None:
    params = {"endTs": sent.end_us // 1000, "lookback": (sent.end_us - sent.start_us) // 1000}
    body = sent.api.get("/api/dependencies", params=params).json()
    _envelope(body)
    assert body["data"] == fixture("badger-dependencies.json")["data"]


def _v3_normalize(doc: dict[str, Any], labels: dict[str, str]) -> list[Any]:
    out = []
    for rs in doc["result"]["resourceSpans"]:
        attrs = [[a["key"], "*" if a["key"] in VOLATILE else a["value"]] for a in rs["resource"]["attributes"]]
        for ss in rs["scopeSpans"]:
            for s in ss["spans"]:
                span = {k: v for k, v in s.items() if k not in ("traceId", "spanId", "parentSpanId", "flags")}
                span["startTimeUnixNano"] = span["endTimeUnixNano"] = "*"
                for e in span.get("events", []):
                    e["timeUnixNano"] = "*"
                out.append([attrs, ss["scope"], labels[s["spanId"]], labels.get(s.get("parentSpanId", "")),
                            list(s), span])
    return sorted(out, key=lambda x: json.dumps(x))


def test_v3_services_and_operations(sent: Sent) -> None:
    assert set(fixture("v3-services.json")["services"]) <= set(sent.api.get("/api/v3/services").json()["services"])
    ops = sent.api.get("/api/v3/operations", params={"service": "quote-service"}).json()
    assert sorted(ops["operations"], key=json.dumps) == sorted(fixture("v3-operations.json")["operations"],
                                                               key=json.dumps)


def test_v3_traces(sent: Sent) -> None:
    got = sent.api.get(f"/api/v3/traces/{sent.ids['error']}").json()
    assert _v3_normalize(got, sent.labels) == _v3_normalize(fixture("v3-trace-error.json"), FIXTURE_LABELS)
    iso = lambda us: datetime.fromtimestamp(us / 1e6, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # noqa: E731
    found = sent.api.get("/api/v3/traces", params={
        "query.service_name": "quote-service", "query.operation_name": "price.calculate",
        "query.start_time_min": iso(sent.start_us), "query.start_time_max": iso(sent.end_us),
        "query.num_traces": 1, "query.duration_min": "15ms"}).json()
    trace_ids = {s["traceId"] for rs in found["result"]["resourceSpans"] for ss in rs["scopeSpans"]
                 for s in ss["spans"]}
    assert len(trace_ids) == 1 and trace_ids <= {sent.ids["ok"], sent.ids["error"]}
    missing = sent.api.get("/api/v3/traces/00000000000000000000000000000001")
    assert missing.status_code == 404 and missing.json() == fixture("v3-trace-not-found.json")


def test_search_by_trace_ids_reports_the_missing_ones(sent: Sent) -> None:
    missing = "00000000000000000000000000000001"
    body = sent.api.get("/api/traces", params=[("traceID", sent.ids["ok"]), ("traceID", missing)]).json()
    assert [t["traceID"] for t in body["data"]] == [sent.ids["ok"]]
    assert body["errors"] == [{"msg": "trace not found", "traceID": "0000000000000001"}]
