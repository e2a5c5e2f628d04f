"""The GitHub backend's failure handling against the stand-in: rate limits honoured through an
injected sleep, 5xx retried, writes queued in the outbox while GitHub is unreachable and replayed
in order (once) when it is back, and the token never shown. Every exchange is also checked
against GitHub's OpenAPI description (``tests/standins/fixtures.py``)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sre_space.adapters.tracker.base import IssueNotFound, TrackerRejected, TrackerUnavailable
from sre_space.adapters.tracker.github import GitHubTracker
from sre_space.adapters.tracker.github_retry import Backoff
from sre_space.models.incident import IssueState
from tests.standins.github_api import GitHubStandIn


class FakeTime:
    """An injected clock whose sleep only records the wait and moves the clock on."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)
        self.sleeps: list[float] = []

    def clock(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def time_() -> FakeTime:
    return FakeTime()


def make(standin: GitHubStandIn, state: Path, time_: FakeTime, **kwargs: object) -> GitHubTracker:
    return GitHubTracker(
        standin.token, standin.repository, state / "outbox.db", api_url=standin.api_url, throttle=False,
        sleep=time_.sleep, clock=time_.clock, **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
def tracker(github_standin: GitHubStandIn, tmp_path: Path, time_: FakeTime) -> Iterator[GitHubTracker]:
    t = make(github_standin, tmp_path, time_)
    yield t
    t.disconnect()


def writes(standin: GitHubStandIn) -> list[str]:
    """The writes that GitHub answered, in order (method and path below the repository)."""
    return [
        f"{x.method} {x.path.split(standin.repository, 1)[1]}"
        for x in standin.exchanges
        if x.method != "GET" and x.status is not None and x.status < 300
    ]


# --- rate limits and 5xx


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("secondary", (7.0, 7.0)),  # 403 + Retry-After: 7
        ("too_many", (7.0, 7.0)),  # 429 + Retry-After: 7
        ("rate_limit", (7.0, 9.0)),  # 403 + X-RateLimit-Remaining: 0, reset in 7 s (+1 s margin)
    ],
)
def test_rate_limits_wait_as_long_as_github_asks(
    tracker: GitHubTracker, github_standin: GitHubStandIn, time_: FakeTime, mode: str, expected: tuple[float, float]
) -> None:
    n = tracker.create_issue("x").number
    github_standin.fail(mode, wait=7, method="GET")
    assert tracker.get_issue(n).number == n
    assert len(time_.sleeps) == 1 and expected[0] <= time_.sleeps[0] <= expected[1]


def test_a_rate_limit_longer_than_max_wait_gives_up_at_once(
    tracker: GitHubTracker, github_standin: GitHubStandIn, time_: FakeTime
) -> None:
    n = tracker.create_issue("x").number
    github_standin.fail("secondary", times=100, wait=3600)
    with pytest.raises(TrackerUnavailable, match="rate limit"):
        tracker.get_issue(n)
    assert time_.sleeps == []
    queued = tracker.comment(n, "while limited")
    assert queued.pending and tracker.outbox.count() == 1


def test_server_errors_are_retried_with_exponential_backoff(
    tracker: GitHubTracker, github_standin: GitHubStandIn, time_: FakeTime
) -> None:
    n = tracker.create_issue("x").number
    github_standin.fail("server_error", times=2, method="GET")
    assert tracker.get_issue(n).number == n
    assert time_.sleeps == [0.5, 1.0]
    github_standin.fail("server_error", times=10, method="GET")
    with pytest.raises(TrackerUnavailable, match="502"):
        tracker.get_issue(n)
    assert time_.sleeps[2:] == [0.5, 1.0, 2.0]  # four tries, then it gives up


def test_a_create_whose_answer_was_lost_is_not_written_twice(
    tracker: GitHubTracker, github_standin: GitHubStandIn, time_: FakeTime
) -> None:
    github_standin.fail("drop_after", method="POST")  # GitHub applies it; the answer never arrives
    issue = tracker.create_issue("policy-service is down", "body", ["incident"])
    assert not issue.pending and issue.body == "body"
    assert [i.number for i in tracker.list_issues("all")] == [issue.number]
    github_standin.fail("drop_after", method="POST")
    comment = tracker.comment(issue.number, "once")
    assert not comment.pending and [c.body for c in tracker.comments(issue.number)] == ["once"]
    assert tracker.outbox.count() == 0


def test_a_server_error_on_create_is_retried(
    tracker: GitHubTracker, github_standin: GitHubStandIn, time_: FakeTime
) -> None:
    github_standin.fail("server_error", method="POST")
    issue = tracker.create_issue("x")
    assert not issue.pending and issue.number == 1 and time_.sleeps == [0.5]


# --- the outbox


def test_writes_wait_in_the_outbox_and_replay_in_order(
    tracker: GitHubTracker, github_standin: GitHubStandIn, time_: FakeTime
) -> None:
    github_standin.fail("drop", times=10**6)  # GitHub unreachable
    issue = tracker.create_issue("policy-service is down", "first", ["incident", "sev:2"])
    assert issue.pending and issue.number < 0
    assert tracker.comment(issue.number, "diagnosis").pending
    tracker.add_labels(issue.number, ["status:diagnosed"])
    tracker.remove_label(issue.number, "sev:2")
    tracker.close(issue.number)
    assert tracker.outbox.count() == 5
    with pytest.raises(TrackerUnavailable):
        tracker.get_issue(issue.number)  # still provisional
    assert github_standin.items == {}

    github_standin.heal()
    assert tracker.flush_outbox() == 5
    assert tracker.outbox.count() == 0
    assert writes(github_standin) == [
        "POST /issues", "POST /issues/1/comments", "POST /issues/1/labels", "DELETE /issues/1/labels/sev%3A2",
        "PATCH /issues/1",
    ]
    real = tracker.get_issue(issue.number)  # the provisional number now leads to the real issue
    assert (real.number, real.state, real.comments) == (1, IssueState.CLOSED, 1)
    assert real.labels == ("incident", "status:diagnosed")


def test_the_outbox_survives_a_restart(
    github_standin: GitHubStandIn, tmp_path: Path, time_: FakeTime
) -> None:
    first = make(github_standin, tmp_path, time_)
    github_standin.fail("drop", times=10**6)
    n = first.create_issue("x").number
    first.comment(n, "queued before the restart")
    first.disconnect()
    github_standin.heal()
    second = make(github_standin, tmp_path, time_)  # a new process over the same state directory
    assert second.flush_outbox() == 2
    assert [c.body for c in second.comments(n)] == ["queued before the restart"]
    second.disconnect()


def test_while_cooling_down_writes_queue_without_touching_github(
    tracker: GitHubTracker, github_standin: GitHubStandIn, time_: FakeTime
) -> None:
    github_standin.fail("drop", times=10**6)
    tracker.create_issue("x")
    before = len(github_standin.exchanges)
    tracker.create_issue("y")
    assert len(github_standin.exchanges) == before
    github_standin.heal()
    time_.sleep(60)  # past the cool-down: the next write replays everything
    made = tracker.create_issue("z")
    assert made.number == 3 and [i.title for i in tracker.list_issues()] == ["x", "y", "z"]


def test_a_queued_write_github_rejects_is_set_aside_and_the_rest_replays(
    tracker: GitHubTracker, github_standin: GitHubStandIn
) -> None:
    n = tracker.create_issue("x").number
    github_standin.fail("drop", times=10**6)
    tracker.comment(999, "to an issue that does not exist")
    tracker.comment(n, "fine")
    github_standin.heal()
    assert tracker.flush_outbox() == 1
    assert [d.op for d in tracker.outbox.dead()] == ["comment"]
    assert "999" in tracker.outbox.dead()[0].error or "Not Found" in tracker.outbox.dead()[0].error
    assert [c.body for c in tracker.comments(n)] == ["fine"]
    with pytest.raises(IssueNotFound):
        tracker.comment(999, "now answered at once")
    assert len(tracker.outbox.dead()) == 1  # its writer heard it: nothing more set aside


# --- credentials


def test_a_bad_token_is_a_rejection_and_no_token_is_ever_shown(
    github_standin: GitHubStandIn, tmp_path: Path, time_: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "ghp_wrong_secret_value"
    bad = GitHubTracker(secret, github_standin.repository, tmp_path / "o.db", api_url=github_standin.api_url,
                        throttle=False, sleep=time_.sleep, clock=time_.clock)
    line = bad.check()
    assert line.startswith("✘") and "401" in line
    with pytest.raises(TrackerRejected) as err:
        bad.get_issue(1)
    github_standin.fail("drop", times=10**6)
    bad.create_issue("queued")
    shown = [line, str(err.value), repr(bad), caplog.text]
    assert all(secret not in text for text in shown)
    assert all(github_standin.token not in text for text in shown)
    bad.disconnect()


def test_repository_must_be_owner_slash_name(tmp_path: Path) -> None:
    with pytest.raises(TrackerRejected, match="owner/name"):
        GitHubTracker("t", "just-a-name", tmp_path / "o.db")


def test_backoff_bounds_are_validated() -> None:
    with pytest.raises(ValueError):
        Backoff(attempts=0)
