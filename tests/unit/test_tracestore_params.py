"""Query parameters and value texts of the trace store, checked against Go's and Jaeger's behaviour."""

from __future__ import annotations

import pytest
from starlette.datastructures import QueryParams

from sre_space.stack.tracestore.params import (
    ParamError,
    Search,
    parse_dependencies,
    parse_go_duration,
    parse_lookback,
    parse_search,
    parse_trace_id,
)
from sre_space.stack.tracestore.values import go_float, go_json, jaeger_tag, search_text
from tests.unit.otlp_requests import value

NOW = 1_795_404_810_024_290_000


@pytest.mark.parametrize(("text", "ns"), [
    ("15ms", 15_000_000),
    ("1s", 10**9),
    ("1h30m", 5400 * 10**9),
    ("1.5s", 1_500_000_000),
    (".5ms", 500_000),
    ("100us", 100_000),
    ("100µs", 100_000),
    ("0", 0),
    ("-2s", -2 * 10**9),
])
def test_go_durations(text: str, ns: int) -> None:
    assert parse_go_duration(text) == ns


@pytest.mark.parametrize(("text", "message"), [
    ("fast", 'time: invalid duration "fast"'),
    ("15", 'time: missing unit in duration "15"'),
    ("15x", 'time: unknown unit "x" in duration "15x"'),
    ("", 'time: invalid duration ""'),
    (".s", 'time: invalid duration ".s"'),
])
def test_go_duration_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_go_duration(text)
    assert str(err.value) == message


def test_lookback_accepts_days_like_the_ui() -> None:
    assert parse_lookback("2d") == 2 * 86400 * 10**9
    assert parse_lookback("15m") == 900 * 10**9


@pytest.mark.parametrize(("text", "hex_id"), [
    ("ea8d51617a0cfd6e7bd1cbf93f7b479f", "ea8d51617a0cfd6e7bd1cbf93f7b479f"),
    ("EA8D51617A0CFD6E7BD1CBF93F7B479F", "ea8d51617a0cfd6e7bd1cbf93f7b479f"),
    ("1", "00000000000000000000000000000001"),              # left-padded like Jaeger
    ("1000000000000000f", "0000000000000001000000000000000f"),
])
def test_trace_ids(text: str, hex_id: str) -> None:
    assert parse_trace_id(text).hex() == hex_id


@pytest.mark.parametrize(("text", "message"), [
    ("not-a-trace-id", 'strconv.ParseUint: parsing "not-a-trace-id": invalid syntax'),
    ("zz000000000000000000", 'strconv.ParseUint: parsing "zz00": invalid syntax'),  # the high part fails
    ("1" * 33, "TraceID cannot be longer than 32 hex characters: " + "1" * 33),
])
def test_trace_id_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_trace_id(text)
    assert str(err.value) == message


def search(query: str) -> Search:
    return parse_search(QueryParams(query), NOW)


def test_search_parameters() -> None:
    q = search('service=s&operation=op&start=10&end=20&limit=5&minDuration=1ms&maxDuration=2s'
               '&tag=a:b:c&tags={"x":"y"}&tags={"x":"z"}')
    assert (q.service, q.operation, q.start_ns, q.end_ns, q.limit) == ("s", "op", 10_000, 20_000, 5)
    assert (q.min_duration_ns, q.max_duration_ns) == (10**6, 2 * 10**9)
    assert q.tags == {"a": "b:c", "x": "z"}


def test_search_window_defaults() -> None:
    assert (search("service=s").start_ns, search("service=s").end_ns) == (NOW - 2 * 86400 * 10**9, NOW)
    assert search("service=s&lookback=1h").start_ns == NOW - 3600 * 10**9
    assert search("service=s&lookback=custom").start_ns == NOW - 2 * 86400 * 10**9
    assert search("service=s&limit=0").limit == 100


@pytest.mark.parametrize(("query", "message"), [
    ("start=1", "parameter 'service' is required"),
    ("service=s&minDuration=fast", "unable to parse param 'minDuration': time: invalid duration \"fast\""),
    ("service=s&start=x", "unable to parse param 'start': strconv.ParseInt: parsing \"x\": invalid syntax"),
    ("service=s&limit=ten", "unable to parse param 'limit': strconv.ParseInt: parsing \"ten\": invalid syntax"),
    ("service=s&minDuration=2s&maxDuration=1s", "'maxDuration' should be greater than 'minDuration'"),
    ("service=s&tag=novalue", "malformed 'tag' parameter, expecting key:value, received: novalue"),
    ("service=s&lookback=soon", "unable to parse param 'lookback': time: invalid duration \"soon\""),
    ("minDuration=fast", "unable to parse param 'minDuration': time: invalid duration \"fast\""),  # parse first
])
def test_search_errors(query: str, message: str) -> None:
    with pytest.raises(ParamError) as err:
        search(query)
    assert str(err.value) == message


def test_search_tags_must_be_an_object_of_strings() -> None:
    with pytest.raises(ParamError, match="malformed 'tags' parameter, cannot unmarshal JSON"):
        search('service=s&tags={"a":1}')


def test_dependencies_parameters() -> None:
    assert parse_dependencies(QueryParams("endTs=1000&lookback=500")) == (500 * 10**6, 1000 * 10**6)
    assert parse_dependencies(QueryParams("endTs=1000")) == (10**9 - 86400 * 10**9, 10**9)
    with pytest.raises(ParamError, match='unable to parse end: strconv.ParseInt: parsing "": invalid syntax'):
        parse_dependencies(QueryParams(""))


@pytest.mark.parametrize(("x", "text"), [
    (3.0, "3"), (412.5, "412.5"), (1e21, "1e+21"), (1e-7, "1e-7"), (1e-5, "0.00001"), (1e16, "10000000000000000"),
])
def test_floats_print_like_go(x: float, text: str) -> None:
    assert go_float(x) == text


@pytest.mark.parametrize(("v", "tag_type", "tag_value", "text"), [
    ("GET", "string", "GET", "GET"),
    (True, "bool", True, "true"),
    (500, "int64", 500, "500"),
    (412.5, "float64", 412.5, "412.5"),
    (3.0, "float64", 3, "3"),
    (b"\x00\xff", "binary", "AP8=", "AP8="),
    (["age", "zip"], "string", '["age","zip"]', '["age","zip"]'),
    (["<a&b>", 1, 2.5, True], "string", '["\\u003ca\\u0026b\\u003e",1,2.5,true]', None),
])
def test_values_as_jaeger_renders_them(v: object, tag_type: str, tag_value: object, text: str | None) -> None:
    av = value(v)
    assert jaeger_tag("k", av) == {"key": "k", "type": tag_type, "value": tag_value}
    assert search_text(av) == (text if text is not None else go_json(av))
