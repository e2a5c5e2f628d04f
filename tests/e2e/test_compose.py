"""The real stack's packaging: docker-compose.yml is valid and matches deploy/fleet.yaml, and the
fleet image builds offline from local wheels and runs a service under the docker runtime."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from sre_space.models.fleet import load_fleet
from tests.docker_engine import ROOT, docker_host, image_present  # noqa: F401 - fixture

pytestmark = pytest.mark.docker

COMPOSE = ROOT / "docker-compose.yml"
BASE_IMAGE = "local/debian-py:base"
CONTRACT = [
    "SERVICE_NAME",
    "PORT",
    "KAFKA_BOOTSTRAP_SERVERS",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "USER_SERVICE_URL",
    "QUOTE_SERVICE_URL",
    "POLICY_SERVICE_URL",
    "FRONTEND_URL",
    "DATA_DIR",
]


def compose_config() -> dict[str, Any]:
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    checked = subprocess.run([tool, "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr
    resolved = subprocess.run([tool, "-f", str(COMPOSE), "config"], capture_output=True, text=True, timeout=60)
    return dict(yaml.safe_load(resolved.stdout))


def test_compose_file_is_valid_and_matches_the_desired_state() -> None:
    services = compose_config()["services"]
    fleet = load_fleet(ROOT / "deploy" / "fleet.yaml")
    assert {"kafka", "jaeger", "chroma", "control-plane", *fleet.names()} <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["jaeger"]["image"].startswith("jaegertracing/jaeger:2.")
    assert services["control-plane"]["command"] == ["sre-space", "agents", "--incidents-api", "0.0.0.0:8091"]
    for spec in fleet.services:
        service = services[spec.name]
        env = service["environment"]
        missing = [name for name in CONTRACT if not env.get(name)]
        assert not missing, f"{spec.name} lacks {missing}"
        assert (env["SERVICE_NAME"], env["PORT"]) == (spec.name, str(spec.port))
        # The knobs and limits are the ones deploy/fleet.yaml declares.
        assert {k: env.get(k) for k in spec.env()} == spec.env(), spec.name
        assert service["command"] == spec.command and service["image"] == spec.image
        assert service["mem_limit"] == f"{spec.memory_mb}m" and float(service["cpus"]) == spec.cpus
        assert all(str(p["host_ip"]) == "127.0.0.1" for p in _ports(service))


def _ports(service: dict[str, Any]) -> list[dict[str, Any]]:
    # docker-compose 1.29 prints ports as "ip:host:container/proto" strings.
    found = []
    for port in service.get("ports", []):
        if isinstance(port, str):
            found.append({"host_ip": port.split(":")[0]})
        else:
            found.append(port)
    return found


def test_fleet_image_builds_offline_and_runs_a_service(docker_host: str) -> None:  # noqa: F811
    if not image_present(docker_host, BASE_IMAGE):
        pytest.skip(f"{BASE_IMAGE} is missing: build it with build_debian_python_image (.ci/dockerd.sh)")
    built = subprocess.run(
        ["bash", "-c", f'source "{ROOT}/.ci/images.sh" && build_fleet_images {BASE_IMAGE}'],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "DOCKER_HOST": docker_host},
    )
    assert built.returncode == 0, built.stderr[-2000:]
    fleet = load_fleet(ROOT / "deploy" / "fleet.yaml")
    user = fleet.service("user-service")
    assert image_present(docker_host, str(user.image)) and image_present(docker_host, "insurecloud/control-plane:0.1.0")

    from sre_space.adapters.runtime.docker import DockerRuntime

    token = secrets.token_hex(3)
    runtime = DockerRuntime(docker_host, network=f"sre-test-{token}", fleet=f"sre-test-{token}", stop_timeout=3)
    try:
        spec = user.model_copy(update={"port": 0})
        runtime.apply(spec)
        state = runtime.wait_ready(spec.name, timeout=90)
        assert state.instances[0].memory_limit_mb == user.memory_mb
        assert any('"service started"' in line for line in runtime.logs(spec.name, tail=50))
    finally:
        runtime.close()
