"""OTLP ``AnyValue`` in the three forms the store needs.

- a Jaeger v1 tag ``{"key", "type", "value"}`` (arrays and maps become a JSON *string*, as Jaeger
  renders them: ``"[\\"age\\",\\"zip\\"]"``);
- a search string: the text of the value as the tag shows it, so ``tags={"http.status_code":"500"}``
  and ``{"quote.premium":"412.5"}`` match (Jaeger compares tags as strings);
- OTLP/JSON for the api/v3 endpoints (``intValue`` as a decimal string, ids in hex).

Go's ``encoding/json`` is imitated where Jaeger's output depends on it (float text, HTML escapes).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from decimal import Decimal
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

# Values longer than this are indexed by digest, so the tag index stays small whatever the spans
# carry (stack traces, SQL); a search for such a value is digested the same way.
MAX_INDEXED_VALUE = 128


def go_float(x: float) -> str:
    """``x`` as Go's encoding/json writes a float64 (``3`` not ``3.0``, ``1e-7`` not ``1e-07``)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    text = repr(x)
    size = abs(x)
    if size != 0 and (size < 1e-6 or size >= 1e21):
        if len(text) >= 4 and text[-4] == "e" and text[-3] == "-" and text[-2] == "0":
            text = text[:-2] + text[-1]
        return text
    if "e" in text or text.endswith(".0"):
        text = format(Decimal(text).normalize(), "f")
    return text


def _go_string(s: str) -> str:
    """A JSON string literal as Go writes it (HTML-safe escapes included)."""
    return (
        json.dumps(s, ensure_ascii=False)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def go_json(v: AnyValue) -> str:
    """Compact JSON of a value as Go marshals pdata's raw form (map keys sorted)."""
    which = v.WhichOneof("value")
    if which == "string_value":
        return _go_string(v.string_value)
    if which == "bool_value":
        return "true" if v.bool_value else "false"
    if which == "int_value":
        return str(v.int_value)
    if which == "double_value":
        return go_float(v.double_value)
    if which == "bytes_value":
        return '"' + base64.b64encode(v.bytes_value).decode() + '"'
    if which == "array_value":
        return "[" + ",".join(go_json(item) for item in v.array_value.values) + "]"
    if which == "kvlist_value":
        pairs = {kv.key: kv.value for kv in v.kvlist_value.values}
        return "{" + ",".join(_go_string(k) + ":" + go_json(pairs[k]) for k in sorted(pairs)) + "}"
    return "null"


def search_text(v: AnyValue) -> str:
    """The value as text, the way a tag search compares it."""
    which = v.WhichOneof("value")
    if which == "string_value":
        return v.string_value
    if which in ("array_value", "kvlist_value"):
        return go_json(v)
    if which == "bytes_value":
        return base64.b64encode(v.bytes_value).decode()
    if which is None:
        return ""
    return go_json(v)


def index_value(text: str) -> str:
    """What the tag index stores for a value: itself, or a digest when it is long."""
    if len(text) <= MAX_INDEXED_VALUE:
        return text
    return "#" + hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def jaeger_tag(key: str, v: AnyValue) -> dict[str, Any]:
    """One Jaeger v1 JSON tag."""
    which = v.WhichOneof("value")
    if which == "string_value":
        return {"key": key, "type": "string", "value": v.string_value}
    if which == "bool_value":
        return {"key": key, "type": "bool", "value": v.bool_value}
    if which == "int_value":
        return {"key": key, "type": "int64", "value": v.int_value}
    if which == "double_value":
        return {"key": key, "type": "float64", "value": _json_number(v.double_value)}
    if which == "bytes_value":
        return {"key": key, "type": "binary", "value": base64.b64encode(v.bytes_value).decode()}
    if which is None:
        return {"key": key, "type": "string", "value": ""}
    return {"key": key, "type": "string", "value": go_json(v)}


def _json_number(x: float) -> float | int | str:
    # Go prints an integral float64 without a fraction (412.0 -> 412); non-finite values have no
    # JSON form at all, so they travel as text.
    if not math.isfinite(x):
        return go_float(x)
    if x.is_integer() and abs(x) < 1e21:
        return int(x)
    return x


def jaeger_tags(attributes: Any) -> list[dict[str, Any]]:
    """Jaeger tags of repeated ``KeyValue``, in attribute order (callers sort)."""
    return [jaeger_tag(kv.key, kv.value) for kv in attributes]


def otlp_json_value(v: AnyValue) -> dict[str, Any]:
    """An ``AnyValue`` in OTLP/JSON."""
    which = v.WhichOneof("value")
    if which == "string_value":
        return {"stringValue": v.string_value}
    if which == "bool_value":
        return {"boolValue": v.bool_value}
    if which == "int_value":
        return {"intValue": str(v.int_value)}
    if which == "double_value":
        return {"doubleValue": _json_number(v.double_value)}
    if which == "bytes_value":
        return {"bytesValue": base64.b64encode(v.bytes_value).decode()}
    if which == "array_value":
        return {"arrayValue": {"values": [otlp_json_value(item) for item in v.array_value.values]}}
    if which == "kvlist_value":
        return {"kvlistValue": {"values": otlp_json_attributes(v.kvlist_value.values)}}
    return {}


def otlp_json_attributes(attributes: Any) -> list[dict[str, Any]]:
    """Repeated ``KeyValue`` in OTLP/JSON, sorted by key as Jaeger serves them."""
    items: list[KeyValue] = sorted(attributes, key=lambda kv: kv.key)
    return [{"key": kv.key, "value": otlp_json_value(kv.value)} for kv in items]
