"""The tracker port's contract: one suite, every backend.

``local`` is the SQLite tracker; ``github`` is the PyGithub backend against the GitHub stand-in,
whose every request and answer is checked against GitHub's OpenAPI description when each test
ends (``tests/standins/fixtures.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from github import Auth, Github

from sre_space.adapters.tracker.base import IssueNotFound, PullNotFound, Tracker, TrackerRejected
from sre_space.models.incident import (
    IssueState,
    Label,
    PullState,
    Status,
    fingerprint_label,
    parse_posts,
    render_post,
    service_label,
    sev_label,
    status_label,
)
from tests.standins.github_api import GitHubStandIn


@dataclass
class Backend:
    tracker: Tracker
    make_branch: Callable[[str], None]


def _github(standin: GitHubStandIn, state: Path) -> Backend:
    from sre_space.adapters.tracker.github import GitHubTracker

    tracker = GitHubTracker(
        standin.token, standin.repository, state / "outbox.db", api_url=standin.api_url, throttle=False,
        sleep=lambda s: None,
    )
    gh = Github(
        auth=Auth.Token(standin.token), base_url=standin.api_url, retry=None, lazy=True,
        seconds_between_requests=0, seconds_between_writes=0,
    )
    repo = gh.get_repo(standin.repository)

    def make_branch(name: str) -> None:
        repo.create_git_ref(f"refs/heads/{name}", repo.get_git_ref("heads/main").object.sha)

    return Backend(tracker, make_branch)


@pytest.fixture(params=["local", "github"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "local":
        from sre_space.adapters.tracker.local import LocalTracker

        yield Backend(LocalTracker(tmp_path / "tracker.db"), lambda name: None)
        return
    standin: GitHubStandIn = request.getfixturevalue("github_standin")
    made = _github(standin, tmp_path)
    yield made
    made.tracker.disconnect()  # type: ignore[attr-defined]


INCIDENT = [Label.INCIDENT.value, sev_label(2), service_label("policy-service")]


def test_create_then_get_returns_the_same_issue(backend: Backend) -> None:
    t = backend.tracker
    first = t.create_issue("policy-service is down", "exit code 137", INCIDENT)
    second = t.create_issue("quote-service is slow", "", [Label.INCIDENT.value])
    assert second.number == first.number + 1
    got = t.get_issue(first.number)
    assert (got.title, got.body, got.state, got.comments) == ("policy-service is down", "exit code 137", "open", 0)
    assert set(got.labels) == set(INCIDENT)
    assert not got.is_pull_request and not got.pending and got.closed_at is None
    assert got.created_at <= got.updated_at


def test_labels_are_added_once_and_removed_idempotently(backend: Backend) -> None:
    t = backend.tracker
    n = t.create_issue("x", "", INCIDENT).number
    t.add_labels(n, [status_label(Status.DIAGNOSED), sev_label(2)])
    assert sorted(t.get_issue(n).labels) == sorted([*INCIDENT, "status:diagnosed"])
    t.remove_label(n, sev_label(2))
    t.remove_label(n, sev_label(2))  # absent now: not an error
    assert sev_label(2) not in t.get_issue(n).labels
    with pytest.raises(TrackerRejected, match="sev:7"):
        t.add_labels(n, ["sev:7"])


def test_update_changes_title_and_body(backend: Backend) -> None:
    t = backend.tracker
    n = t.create_issue("old", "old body").number
    t.update(n, title="new")
    t.update(n, body="new body")
    got = t.get_issue(n)
    assert (got.title, got.body) == ("new", "new body")


def test_comments_come_back_in_order_and_posts_round_trip(backend: Backend) -> None:
    t = backend.tracker
    n = t.create_issue("x", "", INCIDENT).number
    data = {"fingerprint": "policy-service/health", "candidates": [{"service": "policy-service", "score": 0.9}]}
    t.comment(n, "a person's note")
    made = t.comment(n, render_post("brain", "policy-service was OOM-killed.", data))
    assert made.id is not None and made.issue == n and not made.pending
    comments = t.comments(n)
    assert [c.body for c in comments][0] == "a person's note"
    assert t.get_issue(n).comments == 2
    posts = parse_posts(comments)
    assert [(p.agent, p.text, p.data) for p in posts] == [("brain", "policy-service was OOM-killed.", data)]
    assert posts[0].comment_id == comments[1].id


def test_close_and_reopen(backend: Backend) -> None:
    t = backend.tracker
    n = t.create_issue("x", "", INCIDENT).number
    t.close(n)
    closed = t.get_issue(n)
    assert closed.state is IssueState.CLOSED and closed.closed_at is not None
    assert [i.number for i in t.list_issues("closed", [Label.INCIDENT.value])] == [n]
    t.reopen(n)
    reopened = t.get_issue(n)
    assert reopened.state is IssueState.OPEN and reopened.closed_at is None


def test_list_by_labels_matches_all_of_them_and_skips_pulls(backend: Backend) -> None:
    t = backend.tracker
    fp = fingerprint_label("policy-service/health")
    a = t.create_issue("a", "", [*INCIDENT, fp]).number
    b = t.create_issue("b", "", [Label.INCIDENT.value]).number
    c = t.create_issue("c", "", [*INCIDENT, fp]).number
    backend.make_branch("fix-a")
    t.create_pull("fix", "", "fix-a")
    assert [i.number for i in t.list_issues("open", [Label.INCIDENT.value])] == [a, b, c]
    assert [i.number for i in t.list_issues("open", [Label.INCIDENT.value, fp])] == [a, c]
    assert [i.number for i in t.list_issues("all")] == [a, b, c]
    found = t.find_open_by_label(fp)
    assert found is not None and found.number == a  # the oldest open one
    t.close(a)
    t.close(c)
    assert t.find_open_by_label(fp) is None


def test_unknown_numbers_are_not_found(backend: Backend) -> None:
    t = backend.tracker
    t.create_issue("x")
    for action in (lambda: t.get_issue(999), lambda: t.comment(999, "hi"), lambda: t.close(999),
                   lambda: t.add_labels(999, ["approved"]), lambda: t.comments(999)):
        with pytest.raises(IssueNotFound, match="#999"):
            action()
    for pull_action in (lambda: t.get_pull(999), lambda: t.merge_pull(999), lambda: t.close_pull(999)):
        with pytest.raises(PullNotFound):
            pull_action()
    with pytest.raises(TrackerRejected):
        t.create_issue("   ")


def test_pull_requests_share_numbers_and_merge_or_close(backend: Backend) -> None:
    t = backend.tracker
    issue = t.create_issue("x", "", INCIDENT).number
    backend.make_branch("fix-1")
    backend.make_branch("fix-2")
    pr = t.create_pull("Raise memory of policy-service", "Refs #1", "fix-1", "main")
    assert pr.number == issue + 1 and (pr.head, pr.base, pr.state) == ("fix-1", "main", PullState.OPEN)
    assert t.get_issue(pr.number).is_pull_request
    with pytest.raises(PullNotFound):
        t.get_pull(issue)
    other = t.create_pull("Another", "", "fix-2")
    assert [p.number for p in t.list_pulls("open")] == [pr.number, other.number]
    merged = t.merge_pull(pr.number, "merge")
    assert merged.state is PullState.MERGED and merged.merged_at is not None
    assert t.merge_pull(pr.number).state is PullState.MERGED  # merging twice is harmless
    with pytest.raises(TrackerRejected):
        t.close_pull(pr.number)
    assert t.close_pull(other.number).state is PullState.CLOSED
    with pytest.raises(TrackerRejected):
        t.merge_pull(other.number)
    assert [p.number for p in t.list_pulls("open")] == []
    assert {p.number: p.state for p in t.list_pulls("closed")} == {
        pr.number: PullState.MERGED, other.number: PullState.CLOSED
    }


def test_check_reports_a_usable_tracker(backend: Backend) -> None:
    line = backend.tracker.check()
    assert line.startswith("✔ tracker:") and "\n" not in line
