"""An incident's timeline on the tracker: one post per workflow step and the ``status:*`` label.

Every post is readable text plus the machine-readable block of ``render_post``, whose data holds
the step's idempotency key and the state update the step made, so a step re-run after a crash
does not post twice, and ``rebuild`` recovers the workflow's state from the tracker alone.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from sre_space.adapters.tracker import Tracker
from sre_space.models.incident import Status, parse_posts, render_post, status_label

log = logging.getLogger("sre_space.workflow")


class Timeline:
    """Posts the steps of incident ``number``, each at most once (by its step key)."""

    def __init__(self, tracker: Tracker, number: int) -> None:
        self.tracker = tracker
        self.number = number

    def posted(self, step: str) -> bool:
        posts = parse_posts(self.tracker.comments(self.number))
        return any(p.data.get("step") == step for p in posts)

    def post(
        self,
        agent: str,
        step: str,
        text: str,
        state: Mapping[str, Any] | None = None,
        *,
        status: Status | None = None,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
        extra: Mapping[str, Any] | None = None,
    ) -> bool:
        """Post once per ``step``; labels are applied every time (a crash may fall between the
        comment and the labels). True when the comment was written now."""
        fresh = not self.posted(step)
        if fresh:
            data = {**dict(extra or {}), "step": step, "state": dict(state or {})}
            self.tracker.comment(self.number, render_post(agent, text, data))
            log.info("#%s %s: %s", self.number, step, text.splitlines()[0][:160])
        self.label(status, add, remove)
        return fresh

    def label(self, status: Status | None = None, add: Sequence[str] = (), remove: Sequence[str] = ()) -> None:
        """Set the one ``status:*`` label (the old one goes), add and remove other labels."""
        wanted = [*([status_label(status)] if status else []), *add]
        if wanted:
            self.tracker.add_labels(self.number, wanted)
        current = self.tracker.get_issue(self.number).labels
        stale = [lb for lb in current if status and lb.startswith("status:") and lb != status_label(status)]
        for label in [*stale, *remove]:
            if label in current:
                self.tracker.remove_label(self.number, label)


def rebuild(tracker: Tracker, number: int) -> dict[str, Any]:
    """The workflow state of incident ``number`` as its posts recorded it, later steps winning."""
    state: dict[str, Any] = {}
    for post in parse_posts(tracker.comments(number)):
        if isinstance(post.data.get("step"), str) and isinstance(post.data.get("state"), dict):
            state.update(post.data["state"])
    return state
