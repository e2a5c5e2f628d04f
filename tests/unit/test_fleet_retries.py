"""ServiceClient: retries, error mapping, breaker and the timeout flag, through httpx's transport seam."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from services.common.errors import DependencyError
from services.common.flags import FlagStore
from services.common.http import CircuitBreaker, ServiceClient
from services.common.metrics import Metrics


class Peer:
    """Answers each request with the next scripted status (or raises the scripted exception)."""

    def __init__(self, *script: int | type[Exception]) -> None:
        self.script: list[int | type[Exception]] = list(script)
        self.requests: list[httpx.Request] = []
        self.timeouts: list[float | None] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.timeouts.append(request.extensions["timeout"]["read"])
        step = self.script.pop(0) if self.script else 200
        if isinstance(step, type):
            raise step("scripted", request=request)  # type: ignore[call-arg]
        return httpx.Response(step, json={"n": len(self.requests)})


def client(peer: Peer, **kwargs: object) -> tuple[ServiceClient, list[float]]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    options: dict[str, object] = {"timeout_s": 2.0, "retries": 2, "backoff_s": 0.05, "metrics": Metrics()}
    options.update(kwargs)
    return ServiceClient("user-service", "http://users", transport=httpx.MockTransport(peer), sleep=sleep,
                         **options), slept  # type: ignore[arg-type]


def test_retries_server_errors_then_succeeds() -> None:
    peer = Peer(503, 500)
    svc, slept = client(peer)
    resp = asyncio.run(svc.get("/users/1", route="/users/{user_id}"))
    assert resp.status_code == 200 and len(peer.requests) == 3
    assert len(slept) == 2 and slept[1] > slept[0] / 2  # backoff grows (with jitter)


def test_client_errors_are_answers_not_failures() -> None:
    peer = Peer(404)
    svc, slept = client(peer)
    assert asyncio.run(svc.get("/users/9")).status_code == 404
    assert len(peer.requests) == 1 and slept == []


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (httpx.ConnectError, "unreachable (ConnectError)"),
        (httpx.ReadTimeout, "timeout (ReadTimeout)"),
        (502, "HTTP 502"),
    ],
)
def test_exhausted_retries_raise_dependency_error(failure: int | type[Exception], reason: str) -> None:
    peer = Peer(failure, failure, failure)
    svc, _ = client(peer)
    with pytest.raises(DependencyError) as err:
        asyncio.run(svc.get("/users/1"))
    assert err.value.peer == "user-service" and err.value.reason == reason
    assert len(peer.requests) == 3


def test_zero_retries_means_one_attempt() -> None:
    peer = Peer(503)
    svc, _ = client(peer, retries=0)
    with pytest.raises(DependencyError):
        asyncio.run(svc.get("/users/1"))
    assert len(peer.requests) == 1


def test_open_breaker_fails_fast_without_calling() -> None:
    peer = Peer(*([503] * 10))
    breaker = CircuitBreaker(failure_threshold=2, reset_after_s=60)
    svc, _ = client(peer, retries=0, breaker=breaker)
    for _ in range(2):
        with pytest.raises(DependencyError):
            asyncio.run(svc.get("/users/1"))
    with pytest.raises(DependencyError, match="circuit breaker open"):
        asyncio.run(svc.get("/users/1"))
    assert len(peer.requests) == 2
    metrics = svc.metrics.render().decode()  # type: ignore[union-attr]
    assert 'circuit_breaker_open{peer="user-service"} 1.0' in metrics
    assert 'http_client_requests_total{outcome="breaker_open",peer="user-service"} 1.0' in metrics


def test_traceparent_is_sent() -> None:
    from opentelemetry.sdk.trace import TracerProvider

    peer = Peer()
    svc, _ = client(peer)
    tracer = TracerProvider().get_tracer("t")

    async def call() -> None:
        with tracer.start_as_current_span("parent"):
            await svc.get("/users/1")

    asyncio.run(call())
    assert peer.requests[0].headers["traceparent"].startswith("00-")


def test_dependency_timeout_flag_overrides_the_knob(tmp_path: Path) -> None:
    flags_file = tmp_path / "flags.json"
    peer = Peer()
    svc, _ = client(peer, flags=FlagStore(flags_file))
    asyncio.run(svc.get("/users/1"))
    flags_file.write_text(json.dumps({"dependency_timeout_ms": 250}))
    svc.flags = FlagStore(flags_file)  # a fresh store: no waiting for the re-read interval
    asyncio.run(svc.get("/users/1"))
    assert peer.timeouts == [2.0, 0.25]
