"""Test support for the Docker engine: find one, skip with a clear reason when there is none,
and build the tiny busybox image with the recipe of ``.ci/dockerd.sh`` (no registry needed)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUSYBOX_IMAGE = "local/busybox:base"


def engine_host() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def unreachable_reason(host: str) -> str | None:
    """``None`` when an engine answers at ``host``, else why not (one line)."""
    try:
        import docker
    except ImportError:
        return "the docker SDK is not installed (pip install 'sre-space[docker]')"
    try:
        client = docker.DockerClient(base_url=host, timeout=5)
        client.ping()
        client.close()
    except Exception as exc:  # noqa: BLE001 - any failure means: no engine to test against
        return f"no Docker engine reachable at {host} (.ci/run starts one and exports DOCKER_HOST): {exc}"
    return None


def run_recipe(function: str, host: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run one function of ``.ci/dockerd.sh`` against ``host``."""
    script = f'source "{ROOT}/.ci/dockerd.sh" && {function} "$@"'
    env = {**os.environ, "DOCKER_HOST": host}
    return subprocess.run(
        ["bash", "-c", script, "recipe", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def image_present(host: str, image: str) -> bool:
    import docker

    client = docker.DockerClient(base_url=host, timeout=30)
    try:
        client.images.get(image)
        return True
    except docker.errors.ImageNotFound:
        return False
    finally:
        client.close()


@pytest.fixture(scope="session")
def docker_host() -> Iterator[str]:
    """The address of a reachable Docker engine; skips the test when there is none."""
    host = engine_host()
    reason = unreachable_reason(host)
    if reason:
        pytest.skip(reason)
    yield host


@pytest.fixture(scope="session")
def busybox_image(docker_host: str) -> str:
    """``local/busybox:base`` on the engine, built from the host's static busybox if missing."""
    if not image_present(docker_host, BUSYBOX_IMAGE):
        done = run_recipe("build_busybox_image", docker_host, BUSYBOX_IMAGE, timeout=120)
        if done.returncode != 0:
            pytest.skip(f"cannot build {BUSYBOX_IMAGE} (needs /bin/busybox and chroot): {done.stderr.strip()[-300:]}")
    return BUSYBOX_IMAGE
