"""OTLP/HTTP trace export bodies: decoding requests and encoding answers, as a collector does.

Accepted: ``application/x-protobuf`` and ``application/json`` (OTLP/JSON: ids in hex, enums as
numbers or names), optionally gzip- or deflate-compressed. Answers use the request's encoding: an
``ExportTraceServiceResponse`` (with ``partialSuccess`` when spans were rejected) or, on failure,
a ``google.rpc.Status``.
"""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

PROTOBUF, JSON = "application/x-protobuf", "application/json"
MAX_BODY = 64 * 1024 * 1024
_GRPC_INVALID_ARGUMENT, _GRPC_UNAVAILABLE = 3, 14


class OtlpError(Exception):
    """A request the receiver refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def media_type(content_type: str) -> str:
    """The request's encoding, or ``OtlpError(415)``."""
    base = content_type.split(";", 1)[0].strip().lower()
    if base in (PROTOBUF, "application/protobuf"):
        return PROTOBUF
    if base == JSON:
        return JSON
    raise OtlpError(415, f"unsupported media type {content_type or '(none)'!r}, supported: [{JSON}, {PROTOBUF}]")


def decompress(body: bytes, encoding: str) -> bytes:
    """Undo ``Content-Encoding`` (gzip, deflate), refusing bodies that inflate past ``MAX_BODY``."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise OtlpError(400, f"unsupported Content-Encoding {encoding!r}, supported: gzip, deflate")
    wbits = 31 if encoding == "gzip" else 15
    try:
        inflater = zlib.decompressobj(wbits)
        out = inflater.decompress(body, MAX_BODY + 1)
    except zlib.error as exc:
        raise OtlpError(400, f"cannot decompress {encoding} body: {exc}") from exc
    if len(out) > MAX_BODY:
        raise OtlpError(413, f"decompressed body exceeds {MAX_BODY} bytes")
    return out


def decode(body: bytes, kind: str) -> ExportTraceServiceRequest:
    """Parse an export request; malformed input is ``OtlpError(400)`` with the parser's reason."""
    request = ExportTraceServiceRequest()
    if kind == PROTOBUF:
        try:
            request.ParseFromString(body)
        except (DecodeError, RuntimeError, ValueError) as exc:
            raise OtlpError(400, f"cannot decode OTLP protobuf body: {exc or 'malformed message'}") from exc
        return request
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise OtlpError(400, f"cannot decode OTLP/JSON body: {exc}") from exc
    if not isinstance(doc, dict):
        raise OtlpError(400, "cannot decode OTLP/JSON body: expected an object with resourceSpans")
    _hex_ids_to_base64(doc)
    try:
        json_format.ParseDict(doc, request, ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise OtlpError(400, f"cannot decode OTLP/JSON body: {exc}") from exc
    return request


_ID_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


def _hex_ids_to_base64(doc: dict[str, Any]) -> None:
    # OTLP/JSON writes ids in hex where protobuf's JSON mapping expects base64 for bytes.
    for rs in _items(doc, "resourceSpans", "resource_spans"):
        for ss in _items(rs, "scopeSpans", "scope_spans"):
            for span in _items(ss, "spans"):
                _convert(span)
                for link in _items(span, "links"):
                    _convert(link)


def _items(obj: Any, *names: str) -> list[Any]:
    if not isinstance(obj, dict):
        return []
    for name in names:
        value = obj.get(name)
        if isinstance(value, list):
            return value
    return []


def _convert(obj: Any) -> None:
    if not isinstance(obj, dict):
        return
    for name in _ID_FIELDS:
        value = obj.get(name)
        if isinstance(value, str) and value:
            try:
                obj[name] = base64.b64encode(bytes.fromhex(value)).decode()
            except ValueError as exc:
                raise OtlpError(400, f"cannot decode OTLP/JSON body: {name} {value!r} is not hex") from exc


def success(kind: str, rejected: int = 0, message: str = "") -> bytes:
    """The body of a 200 answer."""
    if kind == JSON:
        if not rejected:
            return b"{}"
        partial = {"rejectedSpans": str(rejected), "errorMessage": message}
        return json.dumps({"partialSuccess": partial}).encode()
    response = ExportTraceServiceResponse()
    if rejected:
        response.partial_success.CopyFrom(ExportTracePartialSuccess(rejected_spans=rejected, error_message=message))
    return bytes(response.SerializeToString())


def failure(kind: str, status: int, message: str) -> bytes:
    """The body of an error answer: a ``google.rpc.Status`` in the request's encoding."""
    code = _GRPC_UNAVAILABLE if status in (429, 502, 503, 504) else _GRPC_INVALID_ARGUMENT
    if kind == JSON:
        return json.dumps({"code": code, "message": message}).encode()
    text = message.encode()
    return bytes([0x08, code, 0x12]) + _varint(len(text)) + text


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)
