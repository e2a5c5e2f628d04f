"""The OTLP/HTTP receiver: encodings, compression, malformed input, answers, start and stop."""

from __future__ import annotations

import gzip
import json
import socket
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from google.protobuf import json_format
from google.rpc.status_pb2 import Status as RpcStatus
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from sre_space.errors import PrerequisiteError
from sre_space.stack.tracestore import StoreConfig, TraceStoreProcess, TraceStoreThread
from sre_space.stack.tracestore import otlp as otlp_mod
from sre_space.stack.tracestore.otlp import OtlpError, decode, decompress
from tests.unit.otlp_requests import request, span

PROTO, JSON = "application/x-protobuf", "application/json"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TraceStoreThread]:
    with TraceStoreThread(StoreConfig(tmp_path_factory.mktemp("ts") / "t.db", otlp_port=0, query_port=0)) as s:
        yield s


@pytest.fixture
def otlp(store: TraceStoreThread) -> Iterator[httpx.Client]:
    assert store.endpoints is not None
    with httpx.Client(base_url=f"http://127.0.0.1:{store.endpoints.otlp_port}") as client:
        yield client


@pytest.fixture
def query(store: TraceStoreThread) -> Iterator[httpx.Client]:
    assert store.endpoints is not None
    with httpx.Client(base_url=store.endpoints.query_url) as client:
        yield client


def otlp_json(trace_hex: str, service: str) -> bytes:
    doc = json_format.MessageToDict(request(service, [span(1, 1, "json span", kind=2)]))
    s = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    s["traceId"], s["spanId"], s["kind"] = trace_hex, "00000000000000aa", 2  # OTLP/JSON: hex ids, enum ints
    return json.dumps(doc).encode()


def test_protobuf_export_answers_an_empty_response(otlp: httpx.Client, query: httpx.Client) -> None:
    r = otlp.post("/v1/traces", content=request("pb-svc", [span(11, 1, "op")]).SerializeToString(),
                  headers={"Content-Type": PROTO})
    assert r.status_code == 200 and r.headers["content-type"] == PROTO
    assert ExportTraceServiceResponse.FromString(r.content) == ExportTraceServiceResponse()
    assert "pb-svc" in query.get("/api/services").json()["data"]  # committed before the 200


@pytest.mark.parametrize("encoding", ["gzip", "deflate", None])
def test_json_export_with_compression(otlp: httpx.Client, query: httpx.Client, encoding: str | None) -> None:
    body, trace_hex = otlp_json("ab" * 16, f"json-{encoding}"), "ab" * 16
    headers = {"Content-Type": JSON}
    if encoding:
        body = gzip.compress(body) if encoding == "gzip" else zlib.compress(body)
        headers["Content-Encoding"] = encoding
    r = otlp.post("/v1/traces", content=body, headers=headers)
    assert (r.status_code, r.json()) == (200, {})
    got = query.get(f"/api/traces/{trace_hex}").json()["data"][0]["spans"]
    assert any(s["spanID"] == "00000000000000aa" and s["operationName"] == "json span" for s in got)


def test_partial_success_for_malformed_span_ids(otlp: httpx.Client) -> None:
    bad = span(12, 1, "bad")
    bad.trace_id = b"\x01"
    r = otlp.post("/v1/traces", content=request("partial", [span(12, 2, "good"), bad]).SerializeToString(),
                  headers={"Content-Type": PROTO})
    partial = ExportTraceServiceResponse.FromString(r.content).partial_success
    assert r.status_code == 200 and partial.rejected_spans == 1 and "trace_id" in partial.error_message


@pytest.mark.parametrize(("body", "ctype", "encoding", "status", "message"), [
    (b"\xff\xff\xff\xff", PROTO, "", 400, "cannot decode OTLP protobuf body"),
    (b"{not json", JSON, "", 400, "cannot decode OTLP/JSON body"),
    (b'{"resourceSpans": 3}', JSON, "", 400, "cannot decode OTLP/JSON body"),
    (b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"xyz"}]}]}]}', JSON, "", 400, "traceId 'xyz' is not hex"),
    (b"not gzip", PROTO, "gzip", 400, "cannot decompress gzip body"),
    (b"x", PROTO, "br", 400, "unsupported Content-Encoding 'br'"),
    (b"x", "text/plain", "", 415, "unsupported media type"),
])
def test_garbage_is_a_clear_error(otlp: httpx.Client, body: bytes, ctype: str, encoding: str, status: int,
                                  message: str) -> None:
    headers = {"Content-Type": ctype, **({"Content-Encoding": encoding} if encoding else {})}
    r = otlp.post("/v1/traces", content=body, headers=headers)
    assert r.status_code == status
    if ctype == PROTO:  # a google.rpc.Status in the request's own encoding
        assert message in RpcStatus.FromString(r.content).message
    else:
        assert message in r.json()["message"]


def test_decompression_bomb_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(otlp_mod, "MAX_BODY", 1024 * 1024)
    bomb = gzip.compress(b"\0" * (2 * 1024 * 1024))  # 2 KB that inflate past the limit
    with pytest.raises(OtlpError) as err:
        decompress(bomb, "gzip")
    assert err.value.status == 413


def test_decode_keeps_every_field() -> None:
    sent = request("svc", [span(1, 2, "op", parent=1, kind=3, attributes={"a": 1}, status=(2, "bad"),
                                events=[("e", {"x": "y"})], links=[(4, 5)])])
    assert decode(sent.SerializeToString(), PROTO) == sent


def test_other_paths_and_methods(otlp: httpx.Client, query: httpx.Client) -> None:
    assert otlp.get("/v1/traces").status_code == 405
    assert otlp.get("/health").status_code == 200
    assert query.get("/health").json()["status"] == "Server available"
    missing = query.get("/api/nothing")
    assert (missing.status_code, missing.text) == (404, "404 page not found\n")


def test_busy_port_is_a_prerequisite_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(PrerequisiteError, match=f"OTLP port {port} on 127.0.0.1 is already in use"):
            TraceStoreProcess(tmp_path / "t.db", otlp_port=port).start()
        cli = subprocess.run([sys.executable, "-m", "sre_space.stack.tracestore", "--db", str(tmp_path / "u.db"),
                              "--otlp-port", "0", "--query-port", str(port)], capture_output=True, text=True,
                             timeout=60)
    assert cli.returncode == 3
    assert cli.stderr.strip() == f"trace store: query port {port} on 127.0.0.1 is already in use"


def test_sigterm_is_a_clean_exit(tmp_path: Path) -> None:
    store = TraceStoreProcess(tmp_path / "t.db").start()
    proc = store.process
    assert proc is not None and store.ready_file.exists()
    store.stop()
    assert proc.returncode == 0 and not store.ready_file.exists()
