"""GitHub's REST JSON (issue, issue-comment, pull-request) into the tracker's models.

The outbox's replay marker (an HTML comment GitHub does not render) is cut from bodies here, so
no caller ever sees it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sre_space.models.incident import Comment, Issue, IssueState, PullRequest, PullState

MARKER = "<!-- sre-space:op={} -->\n"
_MARKER_RE = re.compile(r"\A<!-- sre-space:op=[0-9a-f]{32} -->\r?\n?")


def strip_marker(body: str | None) -> str:
    return _MARKER_RE.sub("", body or "", count=1)


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _required_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def issue_from_json(raw: dict[str, Any]) -> Issue:
    return Issue(
        number=raw["number"],
        title=raw["title"],
        body=strip_marker(raw.get("body")),
        labels=tuple(sorted(label["name"] if isinstance(label, dict) else str(label) for label in raw["labels"])),
        state=IssueState(raw["state"]),
        created_at=_required_time(raw["created_at"]),
        updated_at=_required_time(raw["updated_at"]),
        closed_at=_time(raw.get("closed_at")),
        comments=raw.get("comments", 0),
        is_pull_request="pull_request" in raw,
        url=raw.get("html_url"),
    )


def comment_from_json(raw: dict[str, Any]) -> Comment:
    number = int(str(raw["issue_url"]).rstrip("/").rsplit("/", 1)[-1])
    return Comment(
        id=raw["id"],
        issue=number,
        author=(raw.get("user") or {}).get("login", "ghost"),
        body=strip_marker(raw.get("body")),
        created_at=_required_time(raw["created_at"]),
    )


def pull_from_json(raw: dict[str, Any]) -> PullRequest:
    merged_at = _time(raw.get("merged_at"))
    state = PullState.MERGED if merged_at or raw.get("merged") else PullState(raw["state"])
    return PullRequest(
        number=raw["number"],
        title=raw["title"],
        body=raw.get("body") or "",
        head=raw["head"]["ref"],
        base=raw["base"]["ref"],
        state=state,
        created_at=_required_time(raw["created_at"]),
        updated_at=_required_time(raw["updated_at"]),
        merged_at=merged_at,
        url=raw.get("html_url"),
    )
