"""Query parameters as Jaeger's query service reads them, with its error messages verbatim.

Go's ``time.ParseDuration``, ``strconv.ParseInt``/``ParseUint`` and Jaeger's ``TraceIDFromString``
are reproduced so a client gets the same 400 text from the embedded store as from Jaeger.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

DEFAULT_LIMIT = 100
DEFAULT_LOOKBACK_NS = 2 * 24 * 3600 * 10**9  # Jaeger's default search window when start is absent
DEFAULT_DEPENDENCY_LOOKBACK_NS = 24 * 3600 * 10**9

_UNITS_NS = {"ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9,
             "h": 3600 * 10**9}
_DURATION_PART = re.compile(r"(\d*)(?:\.(\d*))?([^\d.]*)")
_INT = re.compile(r"[+-]?\d+")
_HEX = re.compile(r"[0-9a-fA-F]+")


class ParamError(ValueError):
    """A query parameter Jaeger would refuse; ``str()`` is Jaeger's message."""


class Params(Protocol):
    """What the parser needs of a query string (Starlette's ``QueryParams`` fits)."""

    def get(self, key: str, /) -> str | None: ...

    def getlist(self, key: str) -> list[str]: ...


def quote(s: str) -> str:
    """Go's ``strconv.Quote`` for the texts that end up in messages."""
    return json.dumps(s, ensure_ascii=False)


def parse_go_duration(s: str) -> int:
    """Go's ``time.ParseDuration``: nanoseconds, or ``ValueError`` with Go's message."""
    orig, neg = s, False
    if s[:1] in ("-", "+"):
        neg, s = s[0] == "-", s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError(f"time: invalid duration {quote(orig)}")
    total = 0
    while s:
        m = _DURATION_PART.match(s)
        if m is None or not (m.group(1) or m.group(2)) or s[0] not in "0123456789.":
            raise ValueError(f"time: invalid duration {quote(orig)}")
        whole, frac, unit = m.group(1), m.group(2) or "", m.group(3)
        if not unit:
            raise ValueError(f"time: missing unit in duration {quote(orig)}")
        if unit not in _UNITS_NS:
            raise ValueError(f"time: unknown unit {quote(unit)} in duration {quote(orig)}")
        scale = _UNITS_NS[unit]
        total += int(whole or 0) * scale + (int(frac) * scale // 10 ** len(frac) if frac else 0)
        s = s[m.end():]
    if total > 2**63 - 1:
        raise ValueError(f"time: invalid duration {quote(orig)}")
    return -int(total) if neg else int(total)


def parse_lookback(s: str) -> int:
    """A lookback like the Jaeger UI sends (``1h``, ``15m``, ``2d``): nanoseconds."""
    m = re.fullmatch(r"(\d+)d", s)
    if m:
        return int(m.group(1)) * 24 * 3600 * 10**9
    return parse_go_duration(s)


def _parse_uint(s: str) -> int:
    if not _HEX.fullmatch(s):
        raise ValueError(f"strconv.ParseUint: parsing {quote(s)}: invalid syntax")
    return int(s, 16)


def parse_trace_id(s: str) -> bytes:
    """Jaeger's ``TraceIDFromString``: up to 32 hex digits, left-padded; Go's errors otherwise."""
    if len(s) > 32:
        raise ValueError(f"TraceID cannot be longer than 32 hex characters: {s}")
    if len(s) > 16:
        high, low = _parse_uint(s[:-16]), _parse_uint(s[-16:])
    else:
        high, low = 0, _parse_uint(s)
    return high.to_bytes(8, "big") + low.to_bytes(8, "big")


def _parse_int(name: str, value: str) -> int:
    if not _INT.fullmatch(value):
        raise ParamError(f"unable to parse param '{name}': strconv.ParseInt: parsing {quote(value)}: invalid syntax")
    return int(value)


@dataclass(frozen=True)
class Search:
    """A trace search: a trace matches when one of its spans satisfies every condition."""

    service: str
    start_ns: int
    end_ns: int
    operation: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    min_duration_ns: int = 0
    max_duration_ns: int = 0
    limit: int = DEFAULT_LIMIT
    trace_ids: Sequence[bytes] = ()


def parse_tags(simple: list[str], as_json: list[str]) -> dict[str, str]:
    """``tag=k:v`` (repeatable) and ``tags={"k":"v"}``, merged as Jaeger does."""
    tags: dict[str, str] = {}
    for tag in simple:
        key, sep, value = tag.partition(":")
        if not sep:
            raise ParamError(f"malformed 'tag' parameter, expecting key:value, received: {tag}")
        tags[key] = value
    for text in as_json:
        try:
            parsed = json.loads(text)
        except ValueError as exc:
            raise ParamError(f"malformed 'tags' parameter, cannot unmarshal JSON: {exc}") from exc
        if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
            raise ParamError("malformed 'tags' parameter, cannot unmarshal JSON: expected an object of strings")
        tags.update(parsed)
    return tags


def _duration(params: Params, name: str) -> int:
    value = params.get(name) or ""
    if not value:
        return 0
    try:
        return parse_go_duration(value)
    except ValueError as exc:
        raise ParamError(f"unable to parse param '{name}': {exc}") from exc


def parse_search(params: Params, now_ns: int) -> Search:
    """``/api/traces`` parameters, checked in Jaeger's order; ``lookback`` applies without ``start``."""
    end_text, start_text = params.get("end") or "", params.get("start") or ""
    end_ns = _parse_int("end", end_text) * 1000 if end_text else now_ns
    if start_text:
        start_ns = _parse_int("start", start_text) * 1000
    else:
        lookback = params.get("lookback") or ""
        try:
            back = parse_lookback(lookback) if lookback and lookback != "custom" else DEFAULT_LOOKBACK_NS
        except ValueError as exc:
            raise ParamError(f"unable to parse param 'lookback': {exc}") from exc
        start_ns = end_ns - back
    tags = parse_tags(params.getlist("tag"), params.getlist("tags"))
    limit_text = params.get("limit") or ""
    limit = _parse_int("limit", limit_text) if limit_text else DEFAULT_LIMIT
    min_ns, max_ns = _duration(params, "minDuration"), _duration(params, "maxDuration")
    trace_ids = []
    for text in params.getlist("traceID"):
        try:
            trace_ids.append(parse_trace_id(text))
        except ValueError as exc:
            raise ParamError(f"cannot parse traceID param: {exc}") from exc
    service = params.get("service") or ""
    if not trace_ids and not service:
        raise ParamError("parameter 'service' is required")
    if min_ns and max_ns and max_ns < min_ns:
        raise ParamError("'maxDuration' should be greater than 'minDuration'")
    return Search(service, start_ns, end_ns, params.get("operation") or "", tags, min_ns, max_ns,
                  limit if limit > 0 else DEFAULT_LIMIT, tuple(trace_ids))


def parse_dependencies(params: Params) -> tuple[int, int]:
    """``/api/dependencies``: ``endTs`` and ``lookback`` in milliseconds → (start_ns, end_ns)."""
    end_text = params.get("endTs") or ""
    if not _INT.fullmatch(end_text):
        raise ParamError(f"unable to parse end: strconv.ParseInt: parsing {quote(end_text)}: invalid syntax")
    lookback_ns = DEFAULT_DEPENDENCY_LOOKBACK_NS
    lookback = params.get("lookback") or ""
    if lookback:
        try:
            lookback_ns = parse_go_duration(lookback + "ms") or lookback_ns
        except ValueError as exc:
            raise ParamError(f"unable to parse lookback: {exc}") from exc
    end_ns = int(end_text) * 10**6
    return end_ns - lookback_ns, end_ns
