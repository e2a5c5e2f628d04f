"""The tracker over HTTP (JSON): the same operations as ``sre-space incidents``.

``tracker_api(tracker)`` is a FastAPI app to mount in the control plane (``app.mount("/api",
tracker_api(t))``). Handlers are plain ``def``: the tracker blocks, so FastAPI runs them in its
thread pool. Errors keep the tree's meaning: unknown number → 404, rejected → 422, unreachable
tracker → 503, each as ``{"error": "..."}``.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from sre_space.adapters.tracker.base import IssueNotFound, Tracker, TrackerRejected
from sre_space.errors import BackendUnavailable, SREError
from sre_space.models.incident import Comment, Issue, Label, parse_posts


class CommentIn(BaseModel):
    body: str = Field(min_length=1, max_length=65_536)


class LabelIn(BaseModel):
    labels: list[str] = Field(min_length=1)
    remove: bool = False


def _status(exc: SREError) -> int:
    if isinstance(exc, IssueNotFound):
        return 404
    if isinstance(exc, BackendUnavailable):
        return 503
    return 422 if isinstance(exc, TrackerRejected) else 500


def tracker_api(tracker: Tracker) -> FastAPI:
    """A FastAPI app over ``tracker``."""
    app = FastAPI(title="SRE-Space incidents", docs_url=None, redoc_url=None)

    @app.exception_handler(SREError)
    def _error(request: Request, exc: SREError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=_status(exc))

    @app.get("/incidents")
    def list_incidents(
        state: Literal["open", "closed", "all"] = "open",
        label: list[str] = Query(default=[]),
        every: bool = Query(default=False, alias="all"),
    ) -> list[Issue]:
        labels = label if every else [*label, Label.INCIDENT.value]
        return tracker.list_issues(state, labels)

    @app.get("/incidents/{number}")
    def show(number: int) -> dict[str, Any]:
        issue = tracker.get_issue(number)
        comments = tracker.comments(number)
        return {
            "issue": issue.model_dump(mode="json"),
            "comments": [c.model_dump(mode="json") for c in comments],
            "posts": [p.model_dump(mode="json") for p in parse_posts(comments)],
        }

    @app.post("/incidents/{number}/comments", status_code=201)
    def comment(number: int, payload: CommentIn) -> Comment:
        return tracker.comment(number, payload.body)

    @app.post("/incidents/{number}/labels")
    def labels(number: int, payload: LabelIn) -> dict[str, Any]:
        if payload.remove:
            for label in payload.labels:
                tracker.remove_label(number, label)
        else:
            tracker.add_labels(number, payload.labels)
        return _after(tracker, number)

    @app.post("/incidents/{number}/close")
    def close(number: int) -> dict[str, Any]:
        tracker.close(number)
        return _after(tracker, number)

    return app


def _after(tracker: Tracker, number: int) -> dict[str, Any]:
    """The issue after a write; when the write waits in an outbox, only that fact."""
    try:
        return {"issue": tracker.get_issue(number).model_dump(mode="json"), "queued": False}
    except BackendUnavailable:
        return {"issue": None, "queued": True}
