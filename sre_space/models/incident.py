"""The incident tracker's vocabulary: issues, comments and pull requests as every tracker backend
returns them, the labels the control plane speaks, and agent posts.

An agent post is a comment (or an issue body) made of readable Markdown followed by exactly one
fenced machine-readable block::

    **brain** · diagnosis

    policy-service is failing its purchases ...

    ```json sre-space
    {"agent": "brain", "data": {...}, "schema_version": 1}
    ```

so that the workflow's state can be rebuilt from the tracker alone (DESIGN §4).
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION: Literal[1] = 1
MAX_BODY_CHARS = 65_536  # GitHub rejects issue and comment bodies longer than this


class IssueState(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class PullState(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    MERGED = "merged"


class Issue(BaseModel):
    """One issue of the tracker. ``pending`` marks an issue still waiting in an outbox (its
    ``number`` is then provisional and negative until the backend assigns the real one)."""

    model_config = ConfigDict(frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    number: int
    title: str
    body: str = ""
    labels: tuple[str, ...] = ()
    state: IssueState = IssueState.OPEN
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None
    comments: int = Field(0, ge=0, description="number of comments")
    is_pull_request: bool = False
    url: str | None = None
    pending: bool = False

    def has_label(self, label: str) -> bool:
        return label in self.labels


class Comment(BaseModel):
    """One comment on an issue or pull request (``id`` is None while it waits in an outbox)."""

    model_config = ConfigDict(frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    id: int | None
    issue: int
    author: str
    body: str
    created_at: datetime
    pending: bool = False


class PullRequest(BaseModel):
    """A pull request: a proposed change from ``head`` onto ``base`` (branch names)."""

    model_config = ConfigDict(frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    number: int
    title: str
    body: str = ""
    head: str
    base: str
    state: PullState = PullState.OPEN
    created_at: datetime
    updated_at: datetime
    merged_at: datetime | None = None
    url: str | None = None


# --- labels ---------------------------------------------------------------------------------


class Label(enum.StrEnum):
    """The fixed labels; ``sev:N``, ``service:<name>``, ``status:<s>`` and ``fp:<hash>`` are built
    with the helpers below."""

    INCIDENT = "incident"
    NEEDS_APPROVAL = "needs-approval"
    APPROVED = "approved"
    JULES_FIX = "jules-fix"


class Status(enum.StrEnum):
    DIAGNOSED = "diagnosed"
    MITIGATING = "mitigating"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"


SEVERITIES = (1, 2, 3, 4)
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,40}$")
_MAX_LABEL = 50  # GitHub's limit on a label name


def sev_label(severity: int) -> str:
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of 1..4, got {severity}")
    return f"sev:{severity}"


def service_label(service: str) -> str:
    if not _NAME.match(service):
        raise ValueError(f"not a service name: {service!r}")
    return f"service:{service}"


def status_label(status: Status | str) -> str:
    return f"status:{Status(status).value}"


def fingerprint_label(fingerprint: str) -> str:
    """A short, stable label for a symptom's fingerprint (service + signal), used to find the one
    open incident per fingerprint; the full fingerprint goes into the post's machine block."""
    return "fp:" + hashlib.sha256(fingerprint.encode()).hexdigest()[:12]


def validate_label(label: str) -> str:
    """The label itself when it is well formed; ``ValueError`` naming the problem otherwise.

    Free labels are allowed (a GitHub repository has its own); the prefixes of the vocabulary
    (``sev:``, ``service:``, ``status:``, ``fp:``) must carry a valid value."""
    if not label or len(label) > _MAX_LABEL or label != label.strip() or "," in label:
        raise ValueError(f"invalid label {label!r}: 1-{_MAX_LABEL} characters, no comma, no surrounding space")
    prefix, sep, value = label.partition(":")
    if not sep:
        return label
    if prefix == "sev" and value not in {str(s) for s in SEVERITIES}:
        raise ValueError(f"invalid label {label!r}: severity is sev:1..sev:4")
    if prefix == "status" and value not in {s.value for s in Status}:
        raise ValueError(f"invalid label {label!r}: status is one of {', '.join(s.value for s in Status)}")
    if prefix == "service" and not _NAME.match(value):
        raise ValueError(f"invalid label {label!r}: service:<lowercase name>")
    if prefix == "fp" and not re.fullmatch(r"[0-9a-f]{12}", value):
        raise ValueError(f"invalid label {label!r}: fp:<12 hex digits>")
    return label


def _valued(labels: Iterable[str], prefix: str) -> str | None:
    found = [label.partition(":")[2] for label in labels if label.startswith(prefix + ":")]
    return found[0] if found else None


def severity_of(labels: Iterable[str]) -> int | None:
    """The most severe ``sev:N`` among the labels (1 is the worst)."""
    values = [int(v) for v in (label.partition(":")[2] for label in labels if label.startswith("sev:")) if v.isdigit()]
    return min(values) if values else None


def service_of(labels: Iterable[str]) -> str | None:
    return _valued(labels, "service")


def status_of(labels: Iterable[str]) -> Status | None:
    value = _valued(labels, "status")
    return Status(value) if value in {s.value for s in Status} else None


# --- agent posts ----------------------------------------------------------------------------

FENCE_INFO = "json sre-space"
_OPENER = f"```{FENCE_INFO}\n"
_CLOSER = re.compile(r"\n```\s*\Z")
_AGENT = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


class AgentPost(BaseModel):
    """A post parsed back from the tracker: who wrote it, its readable text and its data."""

    model_config = ConfigDict(frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    agent: str
    text: str
    data: dict[str, Any] = Field(default_factory=dict)
    comment_id: int | None = None
    created_at: datetime | None = None


def render_post(agent: str, text: str, data: Mapping[str, Any] | BaseModel) -> str:
    """Markdown for one agent post: a heading line, ``text``, then the fenced JSON block."""
    if not _AGENT.match(agent):
        raise ValueError(f"not an agent name: {agent!r}")
    payload = data.model_dump(mode="json") if isinstance(data, BaseModel) else dict(data)
    block = json.dumps(
        {"schema_version": SCHEMA_VERSION, "agent": agent, "data": payload}, indent=2, sort_keys=True, default=str
    )
    # The block is the last thing in the body, and its opener (which holds a real newline) cannot
    # occur inside JSON text, so the parser finds it with one rfind even when ``text`` quotes a post.
    body = f"**{agent}**\n\n{text.strip()}\n\n```{FENCE_INFO}\n{block}\n```\n"
    if len(body) > MAX_BODY_CHARS:
        raise ValueError(f"post of {agent} is {len(body)} characters; the tracker takes at most {MAX_BODY_CHARS}")
    return body


def parse_post(body: str, *, comment_id: int | None = None, created_at: datetime | None = None) -> AgentPost | None:
    """The agent post in ``body``, or None when it carries no valid machine block."""
    body = body.replace("\r\n", "\n")  # GitHub hands back CRLF for bodies edited in its web UI
    start = body.rfind(_OPENER)
    closer = _CLOSER.search(body, start + len(_OPENER)) if start >= 0 else None
    if closer is None:
        return None
    try:
        block = json.loads(body[start + len(_OPENER) : closer.start()])
    except json.JSONDecodeError:
        return None
    if not isinstance(block, dict) or block.get("schema_version") != SCHEMA_VERSION:
        return None
    if not isinstance(block.get("agent"), str) or not isinstance(block.get("data"), dict):
        return None
    text = body[:start].strip()
    heading = f"**{block['agent']}**"
    if text.startswith(heading):
        text = text[len(heading) :].strip()
    return AgentPost(
        agent=block["agent"], text=text, data=block["data"], comment_id=comment_id, created_at=created_at
    )


def parse_posts(comments: Sequence[Comment]) -> list[AgentPost]:
    """Every agent post among ``comments``, in order; comments of people are skipped."""
    posts = []
    for comment in comments:
        post = parse_post(comment.body, comment_id=comment.id, created_at=comment.created_at)
        if post is not None:
            posts.append(post)
    return posts
