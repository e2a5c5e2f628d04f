"""The tracker's HTTP JSON API, served by a real uvicorn on a free port over the local tracker."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from sre_space.adapters.tracker.local import LocalTracker
from sre_space.api.tracker import tracker_api
from sre_space.models.incident import render_post
from sre_space.net import free_port
from tests.helpers import poll_until


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[httpx.Client, LocalTracker]]:
    tracker = LocalTracker(tmp_path / "tracker.db")
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(tracker_api(tracker), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="tracker-api", daemon=True)
    thread.start()
    poll_until(lambda: server.started, "tracker API listening", timeout=10)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        yield client, tracker
    server.should_exit = True
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_list_show_comment_label_close_over_http(served: tuple[httpx.Client, LocalTracker]) -> None:
    client, tracker = served
    n = tracker.create_issue("policy-service is down", "", ["incident", "sev:2"]).number
    tracker.create_issue("not an incident")
    tracker.comment(n, render_post("scout", "Health check failing.", {"signal": "health"}))

    listed = client.get("/incidents").json()
    assert [i["number"] for i in listed] == [n]
    assert [i["number"] for i in client.get("/incidents", params={"all": "true"}).json()] == [n, n + 1]
    shown = client.get(f"/incidents/{n}").json()
    assert shown["issue"]["title"] == "policy-service is down"
    assert shown["posts"][0]["agent"] == "scout" and shown["posts"][0]["data"] == {"signal": "health"}

    made = client.post(f"/incidents/{n}/comments", json={"body": "on it"})
    assert made.status_code == 201 and made.json()["body"] == "on it"
    labelled = client.post(f"/incidents/{n}/labels", json={"labels": ["approved"]}).json()
    assert "approved" in labelled["issue"]["labels"]
    unlabelled = client.post(f"/incidents/{n}/labels", json={"labels": ["sev:2"], "remove": True}).json()
    assert "sev:2" not in unlabelled["issue"]["labels"]
    closed = client.post(f"/incidents/{n}/close").json()
    assert closed["issue"]["state"] == "closed" and client.get("/incidents").json() == []


def test_errors_keep_their_meaning(served: tuple[httpx.Client, LocalTracker]) -> None:
    client, tracker = served
    n = tracker.create_issue("x", "", ["incident"]).number
    missing = client.get("/incidents/99")
    assert missing.status_code == 404 and missing.json() == {"error": "no issue #99 in " + tracker.describe()}
    assert client.post("/incidents/99/close").status_code == 404
    bad = client.post(f"/incidents/{n}/labels", json={"labels": ["sev:9"]})
    assert bad.status_code == 422 and "sev:9" in bad.json()["error"]
    assert client.post(f"/incidents/{n}/comments", json={"body": ""}).status_code == 422
