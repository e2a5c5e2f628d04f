"""One error tree for the whole control plane.

Adapters translate SDK exceptions into these with ``raise ... from exc``; the CLI prints
``str(exc)`` on one line and exits non-zero (tracebacks only with ``--debug``).
"""

from __future__ import annotations


class SREError(Exception):
    """Base of every error SRE-Space raises on purpose."""

    exit_code = 1


class ConfigError(SREError):
    """The configuration (environment, sre-space.yaml, fleet.yaml) is invalid."""

    exit_code = 2


class PrerequisiteError(SREError):
    """Something the chosen backend needs is missing: a binary, a package, a free port."""

    exit_code = 3


class BackendError(SREError):
    """A backend failed while doing its job."""


class BackendUnavailable(BackendError):
    """The backend cannot be reached right now; retrying later may succeed."""


class BackendRejected(BackendError):
    """The backend refused the request; retrying the same request will not help."""


class PolicyError(SREError):
    """An action falls outside the policy and was not performed."""


class MalformedEvent(SREError):
    """A message could not be decoded into a known event."""
