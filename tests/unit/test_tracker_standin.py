"""The OpenAPI check of the GitHub stand-in really checks: exchanges that break GitHub's
description are reported, the stand-in's own answers are not."""

from __future__ import annotations

import json

import httpx

from tests.standins.github_api import Exchange, GitHubStandIn
from tests.standins.openapi_check import OpenAPICheck


def _post_issue(standin: GitHubStandIn, payload: object) -> Exchange:
    httpx.post(
        f"{standin.api_url}/repos/{standin.repository}/issues", json=payload,
        headers={"Authorization": f"token {standin.token}"}, timeout=10,
    )
    return standin.exchanges[-1]


def test_a_valid_exchange_passes(github_standin: GitHubStandIn, openapi_check: OpenAPICheck) -> None:
    ex = _post_issue(github_standin, {"title": "x", "labels": ["incident"]})
    assert ex.status == 201 and openapi_check.problems([ex]) == []


def test_a_response_missing_a_required_field_is_reported(
    github_standin: GitHubStandIn, openapi_check: OpenAPICheck
) -> None:
    ex = _post_issue(github_standin, {"title": "x"})
    body = json.loads(ex.answer_body)
    del body["number"]
    tampered = Exchange(**{**ex.__dict__, "answer_body": json.dumps(body).encode()})
    problems = openapi_check.problems([tampered])
    assert len(problems) == 1 and "'number' is a required property" in problems[0]


def test_a_request_github_does_not_describe_is_reported(
    github_standin: GitHubStandIn, openapi_check: OpenAPICheck
) -> None:
    ex = _post_issue(github_standin, {"body": "no title"})
    assert ex.status == 422
    assert any("title" in p for p in openapi_check.problems([ex]))
    github_standin.exchanges.clear()  # checked here; the fixture's own check would fail on purpose
    unknown = Exchange(method="GET", path="/repos/acme/fleet/no-such-endpoint", query={}, headers={}, body=b"")
    assert "PathNotFound" in openapi_check.problems([unknown])[0]
