"""The GitHub tracker: issues, comments, labels and pull requests of one repository through
PyGithub 2.x (``GITHUB_API_URL`` points it at GitHub Enterprise).

Issue writes go through the outbox (``outbox.py``): appended, then replayed in order at once, so
an unreachable GitHub delays them instead of losing them. A create or comment carries a hidden
marker (``<!-- sre-space:op=… -->``) so that a replay after a lost answer finds the copy that got
through instead of writing it twice. Reads and pull-request writes are retried with bounded
backoff (``github_retry.py``) and then raise ``TrackerUnavailable``. The token is handed to
PyGithub once and appears in no message or log.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from github import Auth, Github, GithubException
from github.GithubObject import NotSet
from github.Issue import Issue as GhIssue

from sre_space.adapters.tracker.base import (
    IssueNotFound,
    LabelSearch,
    PullNotFound,
    StateFilter,
    TrackerRejected,
    TrackerUnavailable,
    clean_labels,
    require_text,
)
from sre_space.adapters.tracker.github_retry import Backoff, Failure, GitHubFailure, with_retries
from sre_space.adapters.tracker.github_shapes import MARKER, comment_from_json, issue_from_json, pull_from_json
from sre_space.adapters.tracker.outbox import Outbox, OutboxEntry
from sre_space.models.incident import Comment, Issue, PullRequest, PullState

log = logging.getLogger(__name__)
T = TypeVar("T")
DEFAULT_API_URL = "https://api.github.com"
_DEDUPED = {"create_issue", "comment"}
_LOOKBACK = timedelta(minutes=10)  # how far before an entry's queueing a lost copy is searched for


class GitHubTracker(LabelSearch):
    """Issues and pull requests of ``repository`` (``owner/name``); see the module docstring."""

    kind = "github"

    def __init__(
        self,
        token: str,
        repository: str,
        outbox_path: Path,
        *,
        api_url: str | None = None,
        backoff: Backoff = Backoff(),
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        cooldown: float = 10.0,
        timeout: int = 15,
        throttle: bool = True,
    ) -> None:
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", repository):
            raise TrackerRejected(f"GITHUB_REPOSITORY must be owner/name, got {repository!r}")
        self.repository = repository
        self.api_url = (api_url or DEFAULT_API_URL).rstrip("/")
        self._backoff, self._sleep, self._clock, self._cooldown = backoff, sleep, clock, cooldown
        extra: dict[str, Any] = {} if throttle else {"seconds_between_requests": 0, "seconds_between_writes": 0}
        self._gh = Github(
            auth=Auth.Token(token), base_url=self.api_url, timeout=timeout, retry=None, lazy=True, per_page=100, **extra
        )
        self._repo = self._gh.get_repo(repository)
        self.outbox = Outbox(outbox_path, clock)
        self._down_until = 0.0

    def __repr__(self) -> str:
        return f"GitHubTracker({self.repository!r}, api_url={self.api_url!r})"

    def describe(self) -> str:
        return f"GitHub {self.repository}"

    def disconnect(self) -> None:
        """Close PyGithub's HTTP connections."""
        self._gh.close()

    def check(self) -> str:
        try:
            repo = self._call(lambda: self._gh.requester.requestJsonAndCheck("GET", f"/repos/{self.repository}")[1])
            limit = self._call(lambda: self._gh.requester.requestJsonAndCheck("GET", "/rate_limit")[1])
        except GitHubFailure as exc:
            return f"✘ tracker: GitHub {self.repository} at {self.api_url}: {exc}"
        where = f"GitHub {self.repository} at {self.api_url}"
        problems = []
        if not repo.get("has_issues", True):
            problems.append("issues are disabled in the repository")
        if not (repo.get("permissions") or {}).get("push"):
            problems.append("the token cannot write to the repository (no push permission)")
        if problems:
            return f"✘ tracker: {where}: {'; '.join(problems)}"
        core = (limit.get("resources") or {}).get("core") or limit.get("rate") or {}
        return (
            f"✔ tracker: {where} (rate limit {core.get('remaining', '?')}/{core.get('limit', '?')} left,"
            f" {self.outbox.count()} writes waiting in the outbox, {len(self.outbox.dead())} rejected and set aside)"
        )

    # --- plumbing

    def _now(self) -> float:
        return self._clock().timestamp()

    def _call(self, fn: Callable[[], T], *, idempotent: bool = True) -> T:
        return with_retries(lambda _attempt: fn(), self._backoff, self._sleep, self._now, idempotent=idempotent)

    def _request(
        self, fn: Callable[[], T], number: int | None = None, *, pull: bool = False, idempotent: bool = True
    ) -> T:
        """A direct call (a read or a pull-request write) after a try at the outbox, errors translated."""
        if not self._cooling() and self.outbox.count():
            with contextlib.suppress(TrackerUnavailable):  # this call may still succeed; the writes wait
                self.flush_outbox()
        try:
            return self._call(fn, idempotent=idempotent)
        except GitHubFailure as exc:
            raise self._translate(exc, number, pull=pull) from exc

    def _translate(self, exc: GitHubFailure, number: int | None, *, pull: bool = False) -> Exception:
        if exc.kind is Failure.NOT_FOUND and number is not None:
            return PullNotFound(number, self.describe()) if pull else IssueNotFound(number, self.describe())
        if exc.kind is Failure.NOT_FOUND:
            return TrackerRejected(f"{exc} (is GITHUB_REPOSITORY={self.repository} right?)")
        if exc.kind is Failure.REJECTED:
            return TrackerRejected(str(exc))
        return TrackerUnavailable(f"{exc}; {self.describe()} unreachable")

    def _cooling(self) -> bool:
        return self._now() < self._down_until

    def _resolve(self, number: int) -> int:
        real = self.outbox.real_number(number)
        if real is not None:
            return real
        outcome = self.outbox.result(-number)
        if outcome is not None and "error" in outcome:
            raise IssueNotFound(number, f"{self.describe()} (its creation failed: {outcome['error']})")
        raise TrackerUnavailable(f"issue {number} is still waiting in the outbox for {self.describe()}")

    def _issue(self, number: int) -> GhIssue:
        return self._repo.get_issue(self._resolve(number))

    # --- the outbox

    def _write(self, op: str, args: dict[str, Any]) -> tuple[int, Any]:
        """Queue, replay, and return the entry's id and the write's result (None while it waits)."""
        entry_id = self.outbox.append(op, args)
        if self._cooling():
            return entry_id, None
        try:
            self.flush_outbox(own=entry_id)
        except TrackerUnavailable as exc:
            log.warning("%s queued in the outbox: %s", op, exc)
            return entry_id, None
        outcome = self.outbox.result(entry_id)
        if outcome is None:
            return entry_id, None
        if "error" in outcome:
            number = args.get("number")
            if outcome["kind"] == Failure.NOT_FOUND and isinstance(number, int):
                raise IssueNotFound(number, self.describe())
            raise TrackerRejected(outcome["error"])
        return entry_id, outcome["ok"]

    def flush_outbox(self, *, own: int | None = None) -> int:
        """Replay the queued writes in order; the number that reached GitHub. Raises
        ``TrackerUnavailable`` (and keeps the rest queued) when GitHub cannot be reached."""
        done = 0
        with self.outbox.replaying():
            for entry in self.outbox.pending():
                try:
                    result, number = self._replay(entry)
                except GitHubFailure as exc:
                    if exc.kind in (Failure.NOT_FOUND, Failure.REJECTED):
                        if entry.id != own:  # the writer that is still waiting hears it as an exception
                            log.warning("outbox entry %s (%s) rejected by GitHub: %s", entry.id, entry.op, exc)
                        self.outbox.fail(entry, str(exc), exc.kind.value, keep=entry.id != own)
                        continue
                    self._down_until = self._now() + self._cooldown
                    raise TrackerUnavailable(f"{exc}; {self.outbox.count()} writes wait in the outbox") from exc
                self.outbox.complete(entry.id, result, number=number)
                done += 1
        self._down_until = 0.0
        return done

    def _replay(self, entry: OutboxEntry) -> tuple[Any, tuple[int, int] | None]:
        tried = entry.attempts

        def attempt(_: int) -> tuple[Any, tuple[int, int] | None]:
            nonlocal tried
            if tried and entry.op in _DEDUPED:
                copy = self._find_copy(entry)
                if copy is not None:
                    return copy
            self.outbox.mark_attempt(entry.id)
            tried += 1
            return self._execute(entry)

        try:
            return with_retries(attempt, self._backoff, self._sleep, self._now)
        except (IssueNotFound, TrackerUnavailable) as exc:
            # a provisional number whose creation failed (or has not happened) is final / transient
            kind = Failure.NOT_FOUND if isinstance(exc, IssueNotFound) else Failure.NETWORK
            raise GitHubFailure(kind, str(exc)) from exc

    def _execute(self, entry: OutboxEntry) -> tuple[Any, tuple[int, int] | None]:
        a = entry.args
        if entry.op == "create_issue":
            created = self._repo.create_issue(title=a["title"], body=a["body"], labels=a["labels"])
            issue = issue_from_json(created.raw_data)
            return issue.model_dump(mode="json"), (-entry.id, issue.number)
        gh_issue = self._issue(a["number"])
        if entry.op == "comment":
            return comment_from_json(gh_issue.create_comment(a["body"]).raw_data).model_dump(mode="json"), None
        if entry.op == "update":
            fields = {k: a[k] for k in ("title", "body") if a.get(k) is not None}
            gh_issue.edit(**fields)
        elif entry.op == "add_labels":
            # PyGithub's add_to_labels sends a bare JSON array, a form GitHub's OpenAPI description
            # no longer lists; send the documented {"labels": [...]}.
            self._gh.requester.requestJsonAndCheck("POST", f"{gh_issue.url}/labels", input={"labels": a["labels"]})
        elif entry.op == "remove_label":
            try:
                gh_issue.remove_from_labels(a["label"])
            except GithubException as exc:
                if exc.status != 404:
                    raise
                self._issue(a["number"]).raw_data  # noqa: B018 - a 404 here means the issue itself is missing
        elif entry.op in ("close", "reopen"):
            gh_issue.edit(state="closed" if entry.op == "close" else "open")
        else:
            raise GitHubFailure(Failure.REJECTED, f"unknown outbox operation {entry.op!r}")
        return None, None

    def _find_copy(self, entry: OutboxEntry) -> tuple[Any, tuple[int, int] | None] | None:
        """The write of an earlier, unanswered try of ``entry`` if it reached GitHub."""
        marker = MARKER.format(entry.args["op_id"])
        since = (entry.created_at - _LOOKBACK).strftime("%Y-%m-%dT%H:%M:%SZ")
        if entry.op == "create_issue":
            params: dict[str, Any] = {"state": "all", "since": since, "per_page": 100}
            if entry.args["labels"]:
                params["labels"] = ",".join(entry.args["labels"])
            for raw in self._gh.requester.requestJsonAndCheck("GET", f"/repos/{self.repository}/issues", params)[1]:
                if (raw.get("body") or "").startswith(marker):
                    issue = issue_from_json(raw)
                    return issue.model_dump(mode="json"), (-entry.id, issue.number)
            return None
        number = self._resolve(entry.args["number"])
        url = f"/repos/{self.repository}/issues/{number}/comments"
        for raw in self._gh.requester.requestJsonAndCheck("GET", url, {"since": since, "per_page": 100})[1]:
            if (raw.get("body") or "").startswith(marker):
                return comment_from_json(raw).model_dump(mode="json"), None
        return None

    def _pages(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Every item of a listing, page by page (PyGithub's lazy list objects would fetch each item again)."""
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            _, batch = self._gh.requester.requestJsonAndCheck(
                "GET", f"/repos/{self.repository}{path}", {**params, "per_page": 100, "page": page}
            )
            items.extend(batch)
            if len(batch) < 100:
                return items
            page += 1

    # --- issues

    def create_issue(self, title: str, body: str = "", labels: Sequence[str] = ()) -> Issue:
        require_text(title, "an issue's title")
        names = clean_labels(labels)
        op_id = uuid.uuid4().hex
        args = {"title": title, "body": MARKER.format(op_id) + body, "labels": names, "op_id": op_id}
        entry_id, result = self._write("create_issue", args)
        if result is not None:
            return Issue.model_validate(result)
        now = self._clock()
        return Issue(
            number=-entry_id, title=title, body=body, labels=tuple(names), created_at=now, updated_at=now, pending=True
        )

    def get_issue(self, number: int) -> Issue:
        return self._request(lambda: issue_from_json(self._issue(number).raw_data), number)

    def list_issues(self, state: StateFilter = "open", labels: Sequence[str] = ()) -> list[Issue]:
        params: dict[str, Any] = {"state": state, "sort": "created", "direction": "asc"}
        if labels:
            params["labels"] = ",".join(sorted(set(labels)))
        raws = self._request(lambda: self._pages("/issues", params))
        return [issue_from_json(raw) for raw in raws if "pull_request" not in raw]

    def update(self, number: int, *, title: str | None = None, body: str | None = None) -> None:
        require_text(title, "an issue's title")
        self._write("update", {"number": number, "title": title, "body": body})

    def add_labels(self, number: int, labels: Sequence[str]) -> None:
        names = clean_labels(labels)
        if names:  # GitHub's description asks for at least one label
            self._write("add_labels", {"number": number, "labels": names})

    def remove_label(self, number: int, label: str) -> None:
        self._write("remove_label", {"number": number, "label": label})

    def comment(self, number: int, body: str) -> Comment:
        require_text(body, "a comment")
        op_id = uuid.uuid4().hex
        _, result = self._write("comment", {"number": number, "body": MARKER.format(op_id) + body, "op_id": op_id})
        if result is not None:
            return Comment.model_validate(result)
        return Comment(id=None, issue=number, author="sre-space", body=body, created_at=self._clock(), pending=True)

    def comments(self, number: int) -> list[Comment]:
        raws = self._request(lambda: self._pages(f"/issues/{self._resolve(number)}/comments", {}), number)
        return [comment_from_json(raw) for raw in raws]

    def close(self, number: int) -> None:
        self._write("close", {"number": number})

    def reopen(self, number: int) -> None:
        self._write("reopen", {"number": number})

    # --- pull requests: never queued, their outcome decides the caller's next step

    def create_pull(self, title: str, body: str, head: str, base: str = "main") -> PullRequest:
        """Idempotent: when an earlier try got through unanswered, GitHub says the pull exists and
        that one is returned."""
        try:
            made = self._request(
                lambda: self._repo.create_pull(base=base, head=head, title=title, body=body).raw_data, idempotent=False
            )
        except TrackerRejected as exc:
            same = [p for p in self.list_pulls("open") if p.head == head and p.base == base]
            if "already exists" in str(exc) and same:
                return same[0]
            raise
        return pull_from_json(made)

    def get_pull(self, number: int) -> PullRequest:
        return pull_from_json(self._request(lambda: self._repo.get_pull(number).raw_data, number, pull=True))

    def list_pulls(self, state: StateFilter = "open") -> list[PullRequest]:
        raws = self._request(lambda: self._pages("/pulls", {"state": state, "sort": "created", "direction": "asc"}))
        return [pull_from_json(raw) for raw in raws]

    def merge_pull(self, number: int, message: str = "") -> PullRequest:
        pull = self.get_pull(number)
        if pull.state is PullState.MERGED:
            return pull
        if pull.state is PullState.CLOSED:
            raise TrackerRejected(f"pull request #{number} is closed and cannot be merged")
        try:
            self._request(
                lambda: self._repo.get_pull(number).merge(commit_message=message or NotSet),
                number, pull=True, idempotent=False,
            )
        except TrackerRejected:
            if self.get_pull(number).state is not PullState.MERGED:  # an unanswered earlier try may have merged it
                raise
        return self.get_pull(number)

    def close_pull(self, number: int) -> PullRequest:
        if self.get_pull(number).state is PullState.MERGED:
            raise TrackerRejected(f"#{number} is merged and cannot change state")
        self._request(lambda: self._repo.get_pull(number).edit(state="closed"), number, pull=True)
        return self.get_pull(number)
