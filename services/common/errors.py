"""Errors the fleet's services raise and map to HTTP responses (``app.py`` installs the handlers).

The fleet is an ordinary set of apps and keeps its own small tree; it does not import the
control plane's.
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base of the fleet's expected errors; ``status`` is the HTTP status it maps to."""

    status = 500


class DependencyError(ServiceError):
    """A downstream service failed, timed out or is cut off by the circuit breaker."""

    status = 503

    def __init__(self, peer: str, reason: str) -> None:
        super().__init__(f"{peer}: {reason}")
        self.peer, self.reason = peer, reason


class BusUnavailable(ServiceError):
    """The Kafka cluster is unreachable or did not acknowledge a record in time."""

    status = 503


class PoolTimeout(ServiceError):
    """No database connection became free within DB_POOL_TIMEOUT_S."""

    status = 503


class MalformedEvent(ServiceError):
    """A Kafka record that is not one of the fleet's event types (counted and skipped)."""

    status = 400


class NotFound(ServiceError):
    """The requested entity does not exist."""

    status = 404
