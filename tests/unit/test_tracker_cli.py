"""``sre-space incidents …`` and ``sre-space doctor`` on the local tracker, and doctor against
the GitHub stand-in. Runs through ``sre_space.cli.main`` once the commands are wired there, else
through a parser built with ``register`` and the same one-line error handling as ``main``."""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sre_space.adapters.tracker.local import LocalTracker
from sre_space.commands.incidents import register
from sre_space.config import load_settings
from sre_space.errors import SREError
from sre_space.models.incident import render_post
from tests.standins.github_api import GitHubStandIn

Run = Callable[..., tuple[int, str, str]]


@functools.cache
def _wired() -> bool:
    from sre_space.cli import build_parser

    try:
        with contextlib.redirect_stderr(io.StringIO()):
            build_parser().parse_args(["incidents", "list"])
    except SystemExit:
        return False
    return True


def _main(argv: list[str]) -> int:
    if _wired():
        from sre_space.cli import main

        return main(argv)
    parser = argparse.ArgumentParser(prog="sre-space")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return int(args.fn(load_settings(), args))
    except SREError as exc:  # what sre_space.cli.main does
        print(f"sre-space: {exc}", file=sys.stderr)
        return exc.exit_code


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SRE_SPACE_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # no sre-space.yaml of the developer's
    for name in ("GITHUB_TOKEN", "GITHUB_REPOSITORY", "GITHUB_API_URL", "SRE_TRACKER__KIND", "SRE_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
def run(home: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    def go(*argv: str) -> tuple[int, str, str]:
        code = _main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return go


def test_list_show_comment_label_close(home: Path, run: Run) -> None:
    tracker = LocalTracker(home / "tracker.db")
    labels = ["incident", "sev:2", "service:policy-service"]
    n = tracker.create_issue("policy-service is down", "exit 137", labels).number
    tracker.create_issue("not an incident")
    tracker.comment(n, render_post("brain", "OOM-killed at 256 MiB.", {"class": "crash_oom"}))

    code, out, _ = run("incidents", "list")
    assert code == 0
    assert f"#{n}" in out and "sev:2" in out and "policy-service" in out and "not an incident" not in out
    code, out, _ = run("incidents", "show", str(n))
    assert code == 0 and "policy-service is down [open]" in out and "brain" in out and "OOM-killed" in out
    assert "```" not in out  # the machine block stays out of the readable view

    assert run("incidents", "comment", str(n), "looking into it")[0] == 0
    assert run("incidents", "label", str(n), "approved")[0] == 0
    assert run("incidents", "label", str(n), "sev:2", "--remove")[0] == 0
    assert run("incidents", "close", str(n))[0] == 0
    issue = tracker.get_issue(n)
    assert issue.state == "closed" and "approved" in issue.labels and "sev:2" not in issue.labels
    assert [c.body for c in tracker.comments(n)][-1] == "looking into it"
    code, out, _ = run("incidents", "list", "--state", "closed")
    assert f"#{n}" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["incidents", "show", "42"], "no issue #42"),
        (["incidents", "comment", "42", "hi"], "no issue #42"),
        (["incidents", "close", "42"], "no issue #42"),
        (["incidents", "label", "1", "sev:9"], "sev:9"),
    ],
)
def test_mistakes_are_one_line_and_a_non_zero_exit(run: Run, home: Path, argv: list[str], message: str) -> None:
    LocalTracker(home / "tracker.db").create_issue("one", "", ["incident"])
    code, out, err = run(*argv)
    assert code != 0 and message in err and len(err.strip().splitlines()) == 1


def test_doctor_without_a_token_says_the_local_tracker_is_used(run: Run) -> None:
    code, out, _ = run("doctor")
    assert code == 0 and "local" in out and "GITHUB_TOKEN" in out
    assert all(line.startswith("✔") for line in out.strip().splitlines())


def test_doctor_checks_a_github_token_and_repository(
    run: Run, github_standin: GitHubStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_REPOSITORY", github_standin.repository)
    monkeypatch.setenv("GITHUB_API_URL", github_standin.api_url)
    monkeypatch.setenv("GITHUB_TOKEN", github_standin.token)
    code, out, _ = run("doctor")
    assert code == 0, out
    assert "✔ tracker: GitHub acme/fleet" in out and github_standin.token not in out
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_not_valid")
    code, out, _ = run("doctor")
    assert code == 1 and "✘ tracker" in out and "401" in out and "ghp_not_valid" not in out


def test_doctor_reports_github_chosen_without_credentials(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SRE_TRACKER__KIND", "github")
    code, out, _ = run("doctor")
    assert code == 1 and "✘ GITHUB_TOKEN is not set" in out and "GITHUB_REPOSITORY" in out
