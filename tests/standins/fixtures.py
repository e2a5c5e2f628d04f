"""Fixtures for the GitHub stand-in: import them into a test module (``# noqa: F401``).

Every exchange a test makes with the stand-in is checked against GitHub's OpenAPI description
when the test ends; a mismatch fails the test (as an error in its teardown)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.standins.github_api import GitHubStandIn
from tests.standins.openapi_check import HOW_TO_INSTALL, OpenAPICheck, spec_path


@pytest.fixture(scope="session")
def openapi_check() -> OpenAPICheck:
    path = spec_path()
    if path is None:
        pytest.fail(HOW_TO_INSTALL, pytrace=False)
    return OpenAPICheck(path)


@pytest.fixture
def github_standin(openapi_check: OpenAPICheck) -> Iterator[GitHubStandIn]:
    with GitHubStandIn() as standin:
        yield standin
    problems = openapi_check.problems(standin.exchanges)
    assert not problems, "exchanges that do not match GitHub's OpenAPI description:\n" + "\n".join(problems)
