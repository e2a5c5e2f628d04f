"""Which tracker ``open_tracker`` chooses, and the one-line errors of a bad choice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sre_space.adapters.tracker import open_tracker, tracker_kind
from sre_space.adapters.tracker.github import GitHubTracker
from sre_space.adapters.tracker.local import LocalTracker
from sre_space.config import Settings
from sre_space.errors import ConfigError

GH = {"github_token": "t0ken", "github_repository": "acme/fleet"}


def settings(**kw: Any) -> Settings:
    base: dict[str, Any] = {"github_token": None, "github_repository": None, "github_api_url": None}
    return Settings(**{**base, **kw})


@pytest.mark.parametrize(
    ("kw", "kind"),
    [
        ({}, "local"),  # nothing set: the local tracker
        ({"github_token": "t0ken"}, "local"),  # a token alone does not name a repository
        (GH, "github"),  # both set: GitHub
        ({**GH, "tracker": {"kind": "local"}}, "local"),  # an explicit kind wins
    ],
)
def test_the_kind_follows_the_settings(kw: dict[str, Any], kind: str) -> None:
    assert tracker_kind(settings(**kw)) == kind


def test_open_tracker_builds_the_chosen_backend(tmp_path: Path) -> None:
    assert isinstance(open_tracker(settings(), tmp_path), LocalTracker)
    chosen = open_tracker(settings(**GH, github_api_url="http://127.0.0.1:9/api/v3"), tmp_path)
    assert isinstance(chosen, GitHubTracker) and chosen.api_url == "http://127.0.0.1:9/api/v3"
    assert (tmp_path / "tracker.db").exists() and (tmp_path / "github-outbox.db").exists()
    chosen.disconnect()


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"tracker": {"kind": "github"}}, "needs GITHUB_TOKEN and GITHUB_REPOSITORY"),
        ({"github_token": "t0ken", "github_repository": "no-slash"}, "owner/name"),
    ],
)
def test_bad_choices_are_config_errors(tmp_path: Path, kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        open_tracker(settings(**kw), tmp_path)


def test_an_unknown_kind_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from sre_space.config import load_settings

    monkeypatch.setenv("SRE_TRACKER__KIND", "jira")
    with pytest.raises(ConfigError, match="SRE_TRACKER__KIND"):
        load_settings()
