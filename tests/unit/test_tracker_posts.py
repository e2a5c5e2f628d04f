"""Agent posts (readable Markdown + one fenced JSON block) and the label vocabulary."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import BaseModel

from sre_space.models.incident import (
    Comment,
    Label,
    Status,
    fingerprint_label,
    parse_post,
    parse_posts,
    render_post,
    service_label,
    service_of,
    sev_label,
    severity_of,
    status_label,
    status_of,
    validate_label,
)

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def comment(i: int, body: str) -> Comment:
    return Comment(id=i, issue=1, author="sre-bot", body=body, created_at=NOW)


class Plan(BaseModel):
    action: str
    target: str


def test_a_post_round_trips_text_and_data() -> None:
    data = {"candidates": [{"service": "policy-service", "score": 0.93}], "note": "```not a fence```"}
    body = render_post("brain", "policy-service was **OOM-killed**.\n\nEvidence below.", data)
    assert body.startswith("**brain**\n\npolicy-service was **OOM-killed**.")
    post = parse_post(body)
    assert post is not None
    assert (post.agent, post.data) == ("brain", data)
    assert post.text == "policy-service was **OOM-killed**.\n\nEvidence below."


def test_a_pydantic_model_is_accepted_as_data() -> None:
    post = parse_post(render_post("fixer", "Plan ready.", Plan(action="restart", target="quote-service")))
    assert post is not None and post.data == {"action": "restart", "target": "quote-service"}


@pytest.mark.parametrize(
    "body",
    [
        "a person's comment",  # no block at all
        "text\n\n```json sre-space\n{not json}\n```\n",  # the block is not JSON
        "text\n\n```json sre-space\n[1, 2]\n```\n",  # not an object
        'text\n\n```json sre-space\n{"agent": "brain", "data": {}, "schema_version": 99}\n```\n',  # unknown version
        'text\n\n```json sre-space\n{"agent": "brain", "data": {}, "schema_version": 1}\n```\nmore text after',
        "text\n\n```json\n{}\n```\n",  # an ordinary JSON block is not a post
        "",
    ],
)
def test_bodies_without_a_valid_block_are_not_posts(body: str) -> None:
    assert parse_post(body) is None


def test_the_last_block_wins_when_the_text_quotes_another_post() -> None:
    quoted = render_post("scout", "old", {"n": 1})
    body = render_post("brain", f"Earlier post:\n\n{quoted}", {"n": 2})
    post = parse_post(body)
    assert post is not None and post.agent == "brain" and post.data == {"n": 2}


def test_crlf_bodies_from_githubs_web_ui_still_parse() -> None:
    body = render_post("scout", "Opened.", {"fingerprint": "a/b"}).replace("\n", "\r\n")
    post = parse_post(body)
    assert post is not None and post.data == {"fingerprint": "a/b"}


def test_parse_posts_skips_people_and_keeps_order_and_ids() -> None:
    comments = [
        comment(1, render_post("scout", "a", {"i": 1})),
        comment(2, "I am looking at it"),
        comment(3, render_post("brain", "b", {"i": 2})),
    ]
    posts = parse_posts(comments)
    assert [(p.agent, p.comment_id, p.data["i"]) for p in posts] == [("scout", 1, 1), ("brain", 3, 2)]
    assert posts[0].created_at == NOW


def test_render_post_refuses_bad_agents_and_oversized_posts() -> None:
    with pytest.raises(ValueError, match="agent"):
        render_post("Brain Agent", "x", {})
    with pytest.raises(ValueError, match="at most"):
        render_post("brain", "x" * 70_000, {})


@pytest.mark.parametrize(
    ("label", "ok"),
    [
        ("incident", True),
        ("sev:1", True),
        ("sev:4", True),
        ("sev:5", False),  # only four severities
        ("sev:", False),
        ("service:policy-service", True),
        ("service:Policy Service", False),  # service names are lowercase, no spaces
        ("status:mitigated", True),
        ("status:fixed", False),  # not a status of the vocabulary
        ("fp:" + "a" * 12, True),
        ("fp:xyz", False),
        ("needs-approval", True),
        ("a,b", False),  # a comma would split GitHub's label filter
        (" approved", False),
        ("x" * 51, False),  # GitHub's limit is 50
        ("team:payments", True),  # free labels of a repository are allowed
    ],
)
def test_validate_label(label: str, ok: bool) -> None:
    if ok:
        assert validate_label(label) == label
    else:
        with pytest.raises(ValueError):
            validate_label(label)


def test_label_helpers() -> None:
    labels = [Label.INCIDENT.value, sev_label(3), sev_label(2), service_label("quote-service"),
              status_label(Status.MITIGATING)]
    assert severity_of(labels) == 2  # the most severe wins
    assert service_of(labels) == "quote-service"
    assert status_of(labels) is Status.MITIGATING
    assert severity_of(["incident"]) is None and status_of(["status:bogus"]) is None
    fp = fingerprint_label("policy-service/health")
    assert fp == fingerprint_label("policy-service/health") != fingerprint_label("quote-service/health")
    assert validate_label(fp) == fp
    with pytest.raises(ValueError):
        sev_label(0)
