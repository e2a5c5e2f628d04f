"""End to end: `sre-space up` on the embedded stack, 50 journeys through the frontend, one trace
spanning all four services through the Kafka hop found through the Jaeger-style API, `/metrics`
counting them, then `sre-space down` leaving no process behind."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest

from sre_space.adapters.traces.jaeger import JaegerQuery
from sre_space.adapters.tracker import LOCAL_DB
from sre_space.adapters.tracker.local import LocalTracker
from sre_space.models.telemetry import SpanKind
from sre_space.net import free_port
from sre_space.stack.state import StackState, read_state
from tests.helpers import poll_until

ROOT = Path(__file__).resolve().parents[2]
JOURNEYS = 50
FLEET = {"frontend", "quote-service", "policy-service", "user-service"}


def cli(home: Path, *args: str, timeout: float = 300, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SRE_SPACE_HOME": str(home), "SRE_PORTS__AUTO": "true", "SRE_TRAFFIC_RATE": "0",
           **extra_env}
    return subprocess.run(
        [sys.executable, "-m", "sre_space.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=timeout, check=False,
    )


def processes_of(home: Path) -> list[int]:
    """Every live process started for this stack (they all inherit its SRE_SPACE_HOME)."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get("SRE_SPACE_HOME") == str(home):
                found.append(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, StackState]]:
    home = tmp_path_factory.mktemp("stack")
    up = cli(home, "up")
    assert up.returncode == 0, up.stdout + up.stderr
    state = read_state(home)
    assert state is not None
    yield home, state
    cli(home, "down")


def url_of(state: StackState, name: str) -> str:
    return next(c.url for c in state.components if c.name == name and c.url)


def journey(frontend: str, user_id: int) -> str:
    with httpx.Client(base_url=frontend, timeout=10) as client:
        resp = client.post("/api/quotes", json={"user_id": user_id, "product": "home"})
        assert resp.status_code == 201, resp.text
        quote_id = resp.json()["quote_id"]

        def final() -> str | None:
            status = client.get(f"/api/policies/{quote_id}")
            return status.json().get("status") if status.status_code == 200 else None

        return poll_until(lambda: final() in {"purchased", "failed"} and final(), f"policy for {quote_id}", 60)


def test_the_incidents_api_is_served_with_the_stack(stack: tuple[Path, StackState]) -> None:
    home, state = stack
    opened = LocalTracker(home / LOCAL_DB).create_issue(
        "user-service is down", "seen by the test", ["incident", "sev:2", "service:user-service"])
    with httpx.Client(base_url=url_of(state, "incidents"), timeout=10) as api:
        # (the stack's own Scout may open incidents too: only the test's one is looked at)
        listed = api.get("/incidents").json()
        assert opened.number in [i["number"] for i in listed]
        assert api.post(f"/incidents/{opened.number}/comments", json={"body": "on it"}).status_code == 201
        labelled = api.post(f"/incidents/{opened.number}/labels", json={"labels": ["status:mitigating"]}).json()
        assert "status:mitigating" in labelled["issue"]["labels"]
        assert api.get("/incidents/999").status_code == 404
        assert api.post(f"/incidents/{opened.number}/comments", json={"body": ""}).status_code == 422
        # what was written over HTTP is what the CLI reads: one tracker behind both
        shown = cli(home, "incidents", "show", str(opened.number))
        assert shown.returncode == 0 and "on it" in shown.stdout and "status:mitigating" in shown.stdout
        closed = api.post(f"/incidents/{opened.number}/close").json()
        assert closed["issue"]["state"] == "closed"
        assert opened.number not in [i["number"] for i in api.get("/incidents").json()]
        assert opened.number in [i["number"] for i in api.get("/incidents", params={"state": "closed"}).json()]


def test_up_journeys_trace_metrics_down(stack: tuple[Path, StackState]) -> None:
    home, state = stack
    status = cli(home, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    frontend = url_of(state, "frontend")

    # 50 journeys through the frontend
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(lambda i: journey(frontend, i % 200 + 1), range(JOURNEYS)))
    assert outcomes.count("purchased") == JOURNEYS

    # one trace covers frontend -> quote -> Kafka -> policy -> user
    query = JaegerQuery(url_of(state, "traces"))

    def full_trace() -> bool:
        now = int(time.time() * 1e6)
        for trace in query.find_traces("frontend", now - 600_000_000, now, limit=100):
            kinds = {(s.service, s.kind) for s in trace.spans}
            if trace.services >= FLEET and {("quote-service", SpanKind.PRODUCER),
                                            ("policy-service", SpanKind.CONSUMER)} <= kinds:
                return True
        return False

    poll_until(full_trace, "a trace with spans of all four services and the Kafka hop", timeout=60)

    # /metrics counts the journeys
    def quotes_counted() -> float:
        text = httpx.get(f"{frontend}/metrics", timeout=5).text
        return sum(
            float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line.startswith("http_server_requests_total{") and 'route="/api/quotes"' in line
            and 'method="POST"' in line
        )

    assert poll_until(lambda: quotes_counted() >= JOURNEYS, "frontend /metrics counts 50 quotes", 15)
    assert quotes_counted() == JOURNEYS

    # down leaves no process behind
    assert processes_of(home), "the stack's processes should be visible before down"
    down = cli(home, "down")
    assert down.returncode == 0 and "stopped" in down.stdout
    poll_until(lambda: not processes_of(home), "no process of the stack left after down", timeout=15)


def test_port_in_use_is_a_one_line_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as holder:
        port = free_port()
        holder.bind(("127.0.0.1", port))
        holder.listen()
        result = cli(tmp_path, "up", SRE_PORTS__AUTO="false", SRE_PORTS__BROKER=str(port))
    assert result.returncode != 0
    assert f"port {port} (broker) is already in use" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not processes_of(tmp_path)


def test_broken_fleet_file_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "fleet.yaml"
    bad.write_text("services:\n  web: {replicas: -1}\n")
    result = cli(tmp_path, "up", SRE_FLEET_FILE=str(bad))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "replicas" in result.stderr
