"""Business events: JSON with ``type`` and ``schema_version``; anything else is MalformedEvent."""

from __future__ import annotations

import json

import pytest

from services.common.errors import MalformedEvent
from services.common.events import PolicyFailed, PolicyPurchased, QuoteRequested, decode, encode

COMMON = {"quote_id": "q1", "user_id": 7, "product": "auto", "premium": 720.0}


@pytest.mark.parametrize(
    "event",
    [
        QuoteRequested(**COMMON),
        PolicyPurchased(policy_id="p1", **COMMON),
        PolicyFailed(reason="premium_over_limit", **COMMON),
    ],
)
def test_round_trip(event: QuoteRequested | PolicyPurchased | PolicyFailed) -> None:
    raw = encode(event)
    doc = json.loads(raw)
    assert doc["type"] == event.type and doc["schema_version"] == 1
    assert doc["time"].endswith("+00:00") or doc["time"].endswith("Z")
    assert decode(raw) == event


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    raw = json.dumps({"type": "quote_requested", "schema_version": 2, "channel": "web", **COMMON}).encode()
    assert isinstance(decode(raw), QuoteRequested)


@pytest.mark.parametrize(
    "raw",
    [
        b"",  # empty record
        b"not json",
        json.dumps({"type": "quote_cancelled", **COMMON}).encode(),  # unknown type
        json.dumps({"type": "policy_failed", **COMMON}).encode(),  # missing reason
        json.dumps({"type": "quote_requested", "quote_id": "q1"}).encode(),  # missing fields
    ],
)
def test_malformed(raw: bytes) -> None:
    with pytest.raises(MalformedEvent):
        decode(raw)
