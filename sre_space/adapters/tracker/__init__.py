"""The tracker port (``base.py``) and its backends, chosen by ``open_tracker``."""

from __future__ import annotations

from pathlib import Path

from sre_space.adapters.tracker.base import (
    IssueNotFound,
    PullNotFound,
    Tracker,
    TrackerRejected,
    TrackerUnavailable,
)
from sre_space.config import Settings
from sre_space.errors import ConfigError, PrerequisiteError

LOCAL_DB = "tracker.db"
GITHUB_OUTBOX = "github-outbox.db"


def tracker_kind(settings: Settings) -> str:
    """``settings.tracker.kind`` when set, else GitHub when a token and a repository are given."""
    if settings.tracker.kind is not None:
        return settings.tracker.kind
    return "github" if settings.github_token and settings.github_repository else "local"


def open_tracker(settings: Settings, state_dir: Path) -> Tracker:
    """The configured tracker; PyGithub is imported only when GitHub is chosen."""
    kind = tracker_kind(settings)
    if kind == "local":
        from sre_space.adapters.tracker.local import LocalTracker

        return LocalTracker(state_dir / LOCAL_DB)
    if not settings.github_token or not settings.github_repository:
        raise ConfigError("SRE_TRACKER__KIND=github needs GITHUB_TOKEN and GITHUB_REPOSITORY (owner/name)")
    try:
        from sre_space.adapters.tracker.github import GitHubTracker
    except ImportError as exc:
        raise PrerequisiteError(f"the GitHub tracker needs PyGithub: pip install 'sre-space[github]' ({exc})") from exc
    try:
        return GitHubTracker(
            settings.github_token.get_secret_value(),
            settings.github_repository,
            state_dir / GITHUB_OUTBOX,
            api_url=settings.github_api_url,
        )
    except TrackerRejected as exc:
        raise ConfigError(str(exc)) from exc


__all__ = [
    "IssueNotFound",
    "PullNotFound",
    "Tracker",
    "TrackerRejected",
    "TrackerUnavailable",
    "open_tracker",
    "tracker_kind",
]
