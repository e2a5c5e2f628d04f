"""``sre-space incidents list|show|comment|label|close|reopen`` and ``sre-space doctor``.

Wired into the CLI by ``register(subparsers)``; each command is ``fn(settings, args) -> int`` and
raises an ``SREError`` (one line, non-zero exit) for a user mistake such as an unknown number.
"""

from __future__ import annotations

import argparse
import getpass
import json
from typing import Any

from sre_space.adapters.tracker import open_tracker, tracker_kind
from sre_space.adapters.tracker.base import Tracker
from sre_space.config import Settings
from sre_space.models.incident import Issue, Label, parse_post, service_of, severity_of, status_of


def _tracker(settings: Settings) -> Tracker:
    home = settings.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    return open_tracker(settings, home)


def _row(issue: Issue) -> str:
    sev = severity_of(issue.labels)
    status = status_of(issue.labels)
    return (
        f"#{issue.number:<5} {issue.state.value:<6} {f'sev:{sev}' if sev else '-':<6} "
        f"{service_of(issue.labels) or '-':<16} {status.value if status else '-':<10} {issue.title}"
        + (" (pending)" if issue.pending else "")
    )


def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    labels = list(args.label or [])
    if not args.all:
        labels.append(Label.INCIDENT.value)
    issues = _tracker(settings).list_issues(args.state, labels)
    if args.json:
        print(json.dumps([i.model_dump(mode="json") for i in issues], indent=2))
        return 0
    for issue in issues:
        print(_row(issue))
    print(f"{len(issues)} {args.state if args.state != 'all' else ''} incident(s)".replace("  ", " "))
    return 0


def cmd_show(settings: Settings, args: argparse.Namespace) -> int:
    tracker = _tracker(settings)
    issue = tracker.get_issue(args.number)
    comments = tracker.comments(args.number)
    if args.json:
        posts = [p for p in (parse_post(c.body, comment_id=c.id, created_at=c.created_at) for c in comments) if p]
        out: dict[str, Any] = {
            "issue": issue.model_dump(mode="json"),
            "comments": [c.model_dump(mode="json") for c in comments],
            "posts": [p.model_dump(mode="json") for p in posts],
        }
        print(json.dumps(out, indent=2))
        return 0
    print(f"#{issue.number} {issue.title} [{issue.state.value}]" + (f" {issue.url}" if issue.url else ""))
    print(f"labels: {', '.join(issue.labels) or '-'}")
    closed = f", closed {issue.closed_at:%Y-%m-%d %H:%M:%S}" if issue.closed_at else ""
    print(f"opened {issue.created_at:%Y-%m-%d %H:%M:%S}, updated {issue.updated_at:%Y-%m-%d %H:%M:%S}{closed}")
    print(_readable(issue.body) or "(no description)")
    for c in comments:
        post = parse_post(c.body)
        who = f"{post.agent} (as {c.author})" if post else c.author
        print(f"--- {c.created_at:%Y-%m-%d %H:%M:%S} {who}")
        print(post.text if post else c.body)
    print(f"--- {len(comments)} comment(s)")
    return 0


def _readable(body: str) -> str:
    post = parse_post(body)
    return post.text if post else body.strip()


def cmd_comment(settings: Settings, args: argparse.Namespace) -> int:
    comment = _tracker(settings).comment(args.number, args.text)
    print(f"commented on #{args.number}" + (" (queued: the tracker is unreachable)" if comment.pending else ""))
    return 0


def cmd_label(settings: Settings, args: argparse.Namespace) -> int:
    tracker = _tracker(settings)
    if args.remove:
        tracker.remove_label(args.number, args.label)
        print(f"removed {args.label} from #{args.number}")
    else:
        tracker.add_labels(args.number, [args.label])
        print(f"labelled #{args.number} {args.label}")
    return 0


def cmd_close(settings: Settings, args: argparse.Namespace) -> int:
    _tracker(settings).close(args.number)
    print(f"closed #{args.number}")
    return 0


def cmd_reopen(settings: Settings, args: argparse.Namespace) -> int:
    _tracker(settings).reopen(args.number)
    print(f"reopened #{args.number}")
    return 0


def cmd_doctor(settings: Settings, args: argparse.Namespace) -> int:
    """Check the tracker in use: a real GitHub token and repository when they are configured."""
    kind = tracker_kind(settings)
    lines = []
    if kind == "local":
        lines.append("✔ tracker: local (set GITHUB_TOKEN and GITHUB_REPOSITORY to track incidents on GitHub)")
    else:
        token, repo = settings.github_token, settings.github_repository
        lines.append(f"{'✔' if token else '✘'} GITHUB_TOKEN {'is set (not shown)' if token else 'is not set'}")
        lines.append(f"{'✔' if repo else '✘'} GITHUB_REPOSITORY {repo or 'is not set'}")
        lines.append(f"✔ GITHUB_API_URL {settings.github_api_url or 'https://api.github.com (default)'}")
    try:
        tracker = _tracker(settings)
        lines.append(tracker.check())
    except Exception as exc:  # noqa: BLE001 - doctor reports every failure as a ✘ line
        lines.append(f"✘ tracker: {exc}")
    for line in lines:
        print(line)
    return 1 if any(line.startswith("✘") for line in lines) else 0


def cmd_approve(settings: Settings, args: argparse.Namespace) -> int:
    from agents.approval import approve

    print(approve(_tracker(settings), args.number, by=getpass.getuser()))
    return 0


def register(subparsers: Any) -> None:
    """Add ``incidents`` and ``doctor`` to the CLI's subparsers."""
    p = subparsers.add_parser("incidents", help="incidents in the tracker (local or GitHub)")
    sub = p.add_subparsers(dest="action", required=True)
    c = sub.add_parser("list", help="incidents, oldest first")
    c.add_argument("--state", choices=["open", "closed", "all"], default="open")
    c.add_argument("--label", action="append", help="only with this label (repeatable)")
    c.add_argument("--all", action="store_true", help="every issue, not only those labelled incident")
    c.add_argument("--json", action="store_true")
    c.set_defaults(fn=cmd_list)
    c = sub.add_parser("show", help="one incident with its timeline")
    c.add_argument("number", type=int)
    c.add_argument("--json", action="store_true")
    c.set_defaults(fn=cmd_show)
    c = sub.add_parser("comment", help="add a comment")
    c.add_argument("number", type=int)
    c.add_argument("text")
    c.set_defaults(fn=cmd_comment)
    c = sub.add_parser("label", help="add (or --remove) a label")
    c.add_argument("number", type=int)
    c.add_argument("label")
    c.add_argument("--remove", action="store_true")
    c.set_defaults(fn=cmd_label)
    for name, fn in (("close", cmd_close), ("reopen", cmd_reopen)):
        c = sub.add_parser(name, help=f"{name} an incident")
        c.add_argument("number", type=int)
        c.set_defaults(fn=fn)
    c = subparsers.add_parser("approve", help="approve the plan an incident waits on (needs-approval)")
    c.add_argument("number", type=int)
    c.set_defaults(fn=cmd_approve)
    doctor = subparsers.add_parser("doctor", help="check the tracker (a real GitHub token and repository when set)")
    doctor.set_defaults(fn=cmd_doctor)
