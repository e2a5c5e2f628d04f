"""The runtime port (``base.py``) and its backends, chosen by ``settings.runtime.kind``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from sre_space.adapters.runtime.base import Runtime
from sre_space.config import Settings


def open_runtime(
    settings: Settings, state_dir: Path, env: Mapping[str, str] | None = None, *, fleet: str = "sre-space"
) -> Runtime:
    """The configured runtime; a backend's module (and SDK) is imported only when chosen.

    ``env`` is the environment local processes inherit (the caller passes the process
    environment); it never crosses into containers, which get only their spec's knobs.
    """
    match settings.runtime.kind:
        case "local":
            from sre_space.adapters.runtime.local import LocalRuntime

            return LocalRuntime(state_dir, env)
        case "docker":
            from sre_space.adapters.runtime.docker import DockerRuntime

            return DockerRuntime(
                settings.runtime.docker_host or settings.docker_host,
                network=settings.runtime.docker_network,
                fleet=fleet,
            )
    raise AssertionError(f"unreachable runtime kind {settings.runtime.kind!r}")  # Literal-checked by config


__all__ = ["Runtime", "open_runtime"]
