"""How the GitHub backend answers failures: which are worth retrying, and how long to wait.

- Rate limits (403 or 429 with ``Retry-After``, or ``X-RateLimit-Remaining: 0`` and
  ``X-RateLimit-Reset``) wait as long as GitHub asks, when that fits in ``max_wait``.
- 5xx and network errors back off exponentially (``base`` × 2^attempt, at most ``cap``).
- Everything else is final: 404 is "not found", the rest a rejection with GitHub's message.

PyGithub's own retry (urllib3 sleeping inside the SDK) is switched off so that the waiting is
bounded, visible and testable through an injected ``sleep``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import requests
from github import GithubException
from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Failure(enum.StrEnum):
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    NETWORK = "network"
    NOT_FOUND = "not_found"
    REJECTED = "rejected"


TRANSIENT = frozenset({Failure.RATE_LIMITED, Failure.SERVER_ERROR, Failure.NETWORK})


class Backoff(BaseModel):
    """Bounds of the waiting: tries per call, exponential steps, and the longest single wait."""

    model_config = ConfigDict(frozen=True)

    attempts: int = Field(4, ge=1)
    base: float = Field(0.5, ge=0)
    cap: float = Field(8.0, ge=0)
    max_wait: float = Field(60.0, ge=0, description="a rate limit that asks for longer gives up at once")
    secondary_wait: float = Field(60.0, ge=0, description="GitHub's advice when a limit names no time")


class GitHubFailure(Exception):
    """A classified failure: its kind, a message safe to show (never a token), and the wait GitHub asked."""

    def __init__(self, kind: Failure, message: str, status: int | None = None, asked_wait: float | None = None):
        super().__init__(message)
        self.kind, self.status, self.asked_wait = kind, status, asked_wait


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return str(value)
    return None


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def classify(exc: BaseException, now: float) -> GitHubFailure:
    """Translate a PyGithub or requests exception; ``now`` is the epoch time for ``X-RateLimit-Reset``."""
    if isinstance(exc, requests.exceptions.RequestException):
        return GitHubFailure(Failure.NETWORK, f"cannot reach GitHub ({type(exc).__name__})")
    if not isinstance(exc, GithubException):
        raise TypeError(f"not a GitHub failure: {exc!r}")
    status, headers = exc.status, exc.headers
    data = exc.data if isinstance(exc.data, dict) else {}
    message = str(data.get("message") or exc.message or "").strip() or f"HTTP {status}"
    details = [str(e.get("message") or e.get("code")) for e in data.get("errors", []) if isinstance(e, dict)]
    if details:
        message += f" ({'; '.join(details)})"
    retry_after = _float(_header(headers, "retry-after"))
    remaining, reset = _header(headers, "x-ratelimit-remaining"), _float(_header(headers, "x-ratelimit-reset"))
    limited = status == 429 or (
        status == 403 and (retry_after is not None or remaining == "0" or "rate limit" in message.lower())
    )
    if limited:
        asked = retry_after
        if asked is None and remaining == "0" and reset is not None:
            asked = max(0.0, reset - now) + 1.0  # the reset second itself may still be limited
        return GitHubFailure(Failure.RATE_LIMITED, f"GitHub rate limit ({status}: {message})", status, asked)
    if status >= 500:
        return GitHubFailure(Failure.SERVER_ERROR, f"GitHub server error {status}: {message}", status)
    if status == 404:
        return GitHubFailure(Failure.NOT_FOUND, f"not found on GitHub: {message}", status)
    if status == 401:
        return GitHubFailure(Failure.REJECTED, f"GitHub rejected the token (401: {message})", status)
    return GitHubFailure(Failure.REJECTED, f"GitHub refused the request ({status}: {message})", status)


def delay(failure: GitHubFailure, attempt: int, policy: Backoff) -> float:
    """Seconds to wait before try ``attempt + 1`` (attempt counts from 0)."""
    if failure.kind is Failure.RATE_LIMITED:
        return float(failure.asked_wait) if failure.asked_wait is not None else policy.secondary_wait
    return min(policy.cap, policy.base * 2.0**attempt)


def with_retries(
    attempt_fn: Callable[[int], T],
    policy: Backoff,
    sleep: Callable[[float], None],
    now: Callable[[], float],
    *,
    idempotent: bool = True,
) -> T:
    """Run ``attempt_fn(attempt)`` until it succeeds, a failure is final, or the bounds are spent.

    Raises ``GitHubFailure``: final kinds at once, transient ones after the last try or when
    GitHub asks for a wait longer than ``policy.max_wait``. A write that is not ``idempotent`` is
    retried only after a rate limit (GitHub did not act on it); after a 5xx or a lost connection
    it may have been applied, so the caller decides.
    """
    for attempt in range(policy.attempts):
        try:
            return attempt_fn(attempt)
        except (GithubException, requests.exceptions.RequestException) as exc:
            failure = classify(exc, now())
            if failure.kind not in TRANSIENT or (not idempotent and failure.kind is not Failure.RATE_LIMITED):
                raise failure from exc
            wait = delay(failure, attempt, policy)
            if attempt + 1 >= policy.attempts or wait > policy.max_wait:
                raise failure from exc
            sleep(wait)
    raise AssertionError("unreachable: policy.attempts >= 1")
