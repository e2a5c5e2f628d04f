"""The tracker port: where incidents live as numbered issues with labels and comments, and where
changes are proposed as pull requests.

Backends:
- ``local.py``: SQLite in the state directory (the default). GitHub-like: issues and pull
  requests share one number sequence; safe for several processes at once. Pull requests only
  record branch names and states; merging the branches is the caller's business.
- ``github.py``: GitHub's REST API through PyGithub (``GITHUB_TOKEN``, ``GITHUB_REPOSITORY``,
  ``GITHUB_API_URL`` for Enterprise). Rate limits and 5xx are retried with bounded backoff;
  issue writes that cannot reach GitHub wait in a persistent outbox and are replayed in order
  (they come back ``pending``, with a provisional negative number for a new issue); reads while
  GitHub is unreachable raise ``TrackerUnavailable``. Pull-request writes are never queued:
  their outcome decides the caller's next step, so they raise instead.

Errors: ``TrackerUnavailable`` (retry later) and ``TrackerRejected`` (the request itself is
wrong, e.g. ``IssueNotFound``), both in the one error tree of ``sre_space.errors``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol, runtime_checkable

from sre_space.errors import BackendRejected, BackendUnavailable
from sre_space.models.incident import Comment, Issue, PullRequest, validate_label

StateFilter = Literal["open", "closed", "all"]


class TrackerUnavailable(BackendUnavailable):
    """The tracker cannot be reached right now (network, rate limit, 5xx); retrying may succeed."""


class TrackerRejected(BackendRejected):
    """The tracker refused the request (bad credentials, validation, permissions)."""


class IssueNotFound(TrackerRejected):
    """No issue or pull request with that number."""

    def __init__(self, number: int, where: str = "the tracker") -> None:
        super().__init__(f"no issue #{number} in {where}")
        self.number = number


class PullNotFound(TrackerRejected):
    """No pull request with that number."""

    def __init__(self, number: int, where: str = "the tracker") -> None:
        super().__init__(f"no pull request #{number} in {where}")
        self.number = number


def clean_labels(labels: Sequence[str]) -> list[str]:
    """Sorted, unique, well-formed labels; a malformed one is a ``TrackerRejected`` naming it."""
    try:
        return sorted({validate_label(label) for label in labels})
    except ValueError as exc:
        raise TrackerRejected(str(exc)) from exc


def require_text(value: str | None, what: str) -> None:
    """A title or a body that is given must not be blank."""
    if value is not None and not value.strip():
        raise TrackerRejected(f"{what} must not be empty")


class LabelSearch:
    """``find_open_by_label`` for any backend that has ``list_issues``."""

    def list_issues(self, state: StateFilter = "open", labels: Sequence[str] = ()) -> list[Issue]:
        raise NotImplementedError

    def find_open_by_label(self, label: str) -> Issue | None:
        found = self.list_issues("open", [label])
        return found[0] if found else None


@runtime_checkable
class Tracker(Protocol):
    """Issues, comments, labels and pull requests. Numbers are shared by issues and pulls."""

    kind: str

    def check(self) -> str:
        """One line starting with ✔ or ✘: is the backend usable, and where is it."""

    def describe(self) -> str:
        """Where the tracker lives, for messages (``local SQLite at …``, ``GitHub owner/repo``)."""

    # --- issues
    def create_issue(self, title: str, body: str = "", labels: Sequence[str] = ()) -> Issue: ...

    def get_issue(self, number: int) -> Issue: ...

    def list_issues(self, state: StateFilter = "open", labels: Sequence[str] = ()) -> list[Issue]:
        """Issues (never pull requests) carrying every one of ``labels``, oldest first."""

    def find_open_by_label(self, label: str) -> Issue | None:
        """The oldest open issue carrying ``label`` (e.g. a fingerprint label), or None."""

    def update(self, number: int, *, title: str | None = None, body: str | None = None) -> None: ...

    def add_labels(self, number: int, labels: Sequence[str]) -> None: ...

    def remove_label(self, number: int, label: str) -> None:
        """Idempotent: removing a label the issue does not carry is not an error."""

    def comment(self, number: int, body: str) -> Comment: ...

    def comments(self, number: int) -> list[Comment]:
        """The comments of an issue, oldest first."""

    def close(self, number: int) -> None: ...

    def reopen(self, number: int) -> None: ...

    # --- pull requests
    def create_pull(self, title: str, body: str, head: str, base: str = "main") -> PullRequest: ...

    def get_pull(self, number: int) -> PullRequest: ...

    def list_pulls(self, state: StateFilter = "open") -> list[PullRequest]:
        """Pull requests, oldest first; ``closed`` includes the merged ones."""

    def merge_pull(self, number: int, message: str = "") -> PullRequest:
        """Record the pull request as merged (GitHub merges it; locally the caller merges the branches)."""

    def close_pull(self, number: int) -> PullRequest: ...
