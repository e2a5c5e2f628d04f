"""The runtime port's contract: one suite, every backend (local processes, a real Docker engine).

Each backend brings tiny real services: a Python HTTP server for ``local``, busybox ``httpd`` in
a locally built image for ``docker``. The docker cases skip (with the reason) only when no engine
is reachable; ``.ci/run`` starts one and exports ``DOCKER_HOST``.
"""

from __future__ import annotations

import os
import secrets
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from sre_space.adapters.runtime.base import InstanceState, InstanceStatus, Runtime, RuntimeEvent, RuntimeEventKind
from sre_space.errors import BackendRejected
from sre_space.models.fleet import ServiceSpec
from tests.docker_engine import busybox_image, docker_host  # noqa: F401 - fixtures
from tests.helpers import poll_until

LOCAL_WEB = r"""
import http.server, os
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = {"/health": b"ok", "/greeting": os.environ.get("GREETING", "").encode()}.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.end_headers()
        self.wfile.write(body or b"")
    def log_message(self, fmt, *args):
        print("request", self.path, flush=True)
print("listening", os.environ["SERVICE_INSTANCE"], flush=True)
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""
LOCAL_HOG = "a = []\nwhile True:\n    a.append(b'x' * (4 << 20))"
BUSYBOX_WEB = (
    'mkdir -p /www && echo ok > /www/health && printf %s "$GREETING" > /www/greeting'
    ' && echo listening "$SERVICE_INSTANCE" && exec httpd -f -v -p "$PORT" -h /www'
)


class Flavour:
    """How one backend's test services look."""

    def __init__(self, kind: str, image: str | None = None) -> None:
        self.kind, self.image = kind, image

    def spec(self, name: str, local: list[str], docker: list[str], **fields: Any) -> ServiceSpec:
        if self.kind == "local":
            return ServiceSpec(name=name, command=local, **fields)
        return ServiceSpec(name=name, image=self.image, command=docker, **fields)

    def web(self, name: str, **fields: Any) -> ServiceSpec:
        fields.setdefault("port", 0)
        fields.setdefault("memory_mb", 64)
        return self.spec(name, ["python", "-c", LOCAL_WEB], ["sh", "-c", BUSYBOX_WEB], **fields)

    def crasher(self, name: str) -> ServiceSpec:
        local = ["python", "-c", "print('boom', flush=True); raise SystemExit(3)"]
        return self.spec(name, local, ["sh", "-c", "echo boom; exit 3"], memory_mb=64)

    def hog(self, name: str) -> ServiceSpec:
        # Allocates (and touches) memory without end: only the limit can stop it.
        local = ["python", "-c", LOCAL_HOG]
        docker = ["sh", "-c", "head -c 300m /dev/zero | tail"]
        return self.spec(name, local, docker, memory_mb=64 if self.kind == "local" else 32)


@pytest.fixture(params=["local", pytest.param("docker", marks=pytest.mark.docker)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Runtime, Flavour]]:
    token = secrets.token_hex(3)
    if request.param == "local":
        from sre_space.adapters.runtime.local import LocalRuntime

        runtime: Runtime = LocalRuntime(tmp_path, dict(os.environ), backoff_initial=0.2, stop_timeout=3)
        flavour = Flavour("local")
    else:
        from sre_space.adapters.runtime.docker import DockerRuntime

        host = request.getfixturevalue("docker_host")
        image = request.getfixturevalue("busybox_image")
        runtime = DockerRuntime(host, network=f"sre-test-{token}", fleet=f"sre-test-{token}", stop_timeout=2)
        flavour = Flavour("docker", image)
    try:
        yield runtime, flavour
    finally:
        runtime.close()


def get(port: int | None, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return str(response.read().decode())


def only(runtime: Runtime, service: str) -> InstanceState:
    instances = runtime.state(service).instances
    assert len(instances) == 1, instances
    return instances[0]


def once(runtime: Runtime, service: str, condition: Callable[[InstanceState], bool], reason: str) -> InstanceState:
    """Poll the service's single instance until ``condition`` holds; return that state."""

    def check() -> InstanceState | None:
        inst = only(runtime, service)
        return inst if condition(inst) else None

    found = poll_until(check, reason)
    assert found is not None
    return found


def wait_ready(runtime: Runtime, service: str) -> None:
    runtime.wait_ready(service, 30)  # type: ignore[attr-defined]


def wait_event(runtime: Runtime, service: str, kind: RuntimeEventKind) -> list[RuntimeEvent]:
    """Events of ``kind`` for ``service`` once there is one (the engine reports asynchronously)."""
    return poll_until(
        lambda: [e for e in runtime.events() if e.service == service and e.kind == kind], f"{kind} event of {service}"
    )


def test_start_reports_a_running_instance(backend: tuple[Runtime, Flavour]) -> None:
    runtime, flavour = backend
    spec = flavour.web("web")
    state = runtime.apply(spec)
    assert state.spec == spec
    inst = state.instances[0]
    assert (inst.instance, inst.status, inst.restart_count, inst.exit_code) == ("web-0", "running", 0, None)
    assert inst.pid and inst.port and inst.memory_limit_mb == 64 and inst.version == spec.version
    wait_ready(runtime, "web")
    assert get(inst.port, "/health").strip() == "ok"
    assert runtime.services() == ["web"]
    assert runtime.apply(spec).instances[0].started_at == inst.started_at  # same spec: nothing to do


def test_restart_increments_restart_count(backend: tuple[Runtime, Flavour]) -> None:
    runtime, flavour = backend
    before = runtime.apply(flavour.web("web")).instances[0]
    wait_ready(runtime, "web")
    after = runtime.restart("web").instances[0]
    assert after.restart_count == 1
    assert after.status == InstanceStatus.RUNNING and after.started_at != before.started_at
    wait_ready(runtime, "web")
    assert wait_event(runtime, "web", RuntimeEventKind.RESTARTED)[-1].instance == "web-0"


def test_crash_is_reported_and_restarted(backend: tuple[Runtime, Flavour]) -> None:
    runtime, flavour = backend
    runtime.apply(flavour.crasher("crasher"))
    inst = once(runtime, "crasher", lambda i: i.exit_code == 3 and i.restart_count >= 1, "exit 3, then a restart")
    assert inst.oom_killed is False
    assert wait_event(runtime, "crasher", RuntimeEventKind.EXITED)[0].exit_code == 3
    assert "boom" in runtime.logs("crasher", tail=5)


def test_stop_leaves_nothing(backend: tuple[Runtime, Flavour]) -> None:
    runtime, flavour = backend
    inst = runtime.apply(flavour.web("web")).instances[0]
    wait_ready(runtime, "web")
    runtime.stop("web")
    assert runtime.state("web").instances == [] and runtime.services() == []
    if flavour.kind == "local":
        assert inst.pid is not None and not psutil.pid_exists(inst.pid)
    with pytest.raises(OSError):
        get(inst.port, "/health")
    assert wait_event(runtime, "web", RuntimeEventKind.STOPPED)[0].instance == "web-0"
    runtime.stop("web")  # stopping what does not run is not an error


def test_scale_up_and_down(backend: tuple[Runtime, Flavour]) -> None:
    runtime, flavour = backend
    runtime.apply(flavour.web("web"))
    state = runtime.scale("web", 2)
    assert [i.instance for i in state.instances] == ["web-0", "web-1"] and state.spec and state.spec.replicas == 2
    wait_ready(runtime, "web")
    ports = {i.port for i in runtime.state("web").instances}
    assert len(ports) == 2 and all(get(p, "/health").strip() == "ok" for p in ports)
    state = runtime.scale("web", 1)
    assert [i.instance for i in state.instances] == ["web-0"] and state.running == 1
    scaled = [e.detail for e in runtime.events() if e.kind == RuntimeEventKind.SCALED]
    assert scaled == ["1 -> 2", "2 -> 1"]


def test_apply_changed_config_replaces_the_instance(backend: tuple[Runtime, Flavour]) -> None:
    runtime, flavour = backend
    first = runtime.apply(flavour.web("web", config={"GREETING": "one"})).instances[0]
    wait_ready(runtime, "web")
    assert get(first.port, "/greeting") == "one"
    changed = flavour.web("web", config={"GREETING": "two"})
    state = runtime.apply(changed)
    assert state.spec == changed and len(state.instances) == 1
    wait_ready(runtime, "web")
    second = only(runtime, "web")
    assert second.started_at != first.started_at and second.restart_count == 0
    assert get(second.port, "/greeting") == "two"


def test_state_logs_and_events(backend: tuple[Runtime, Flavour]) -> None:
    runtime, flavour = backend
    runtime.apply(flavour.web("web"))
    wait_ready(runtime, "web")
    assert runtime.state("nothing-here").instances == []
    marker = wait_event(runtime, "web", RuntimeEventKind.STARTED)[-1].time
    assert runtime.events(since=marker) == []
    assert poll_until(lambda: any("listening web-0" in line for line in runtime.logs("web")), "startup line logged")
    runtime.restart("web")
    later = runtime.events(since=marker)
    assert later and all(e.time > marker for e in later)
    assert [e.kind for e in later if e.kind != RuntimeEventKind.STOPPED][-1] == RuntimeEventKind.RESTARTED


def test_over_memory_limit_is_killed_as_oom(backend: tuple[Runtime, Flavour]) -> None:
    runtime, flavour = backend
    runtime.apply(flavour.hog("hog"))
    inst = once(runtime, "hog", lambda i: i.oom_killed, "hog OOM-killed")
    assert inst.exit_code == 137
    assert wait_event(runtime, "hog", RuntimeEventKind.OOM_KILLED)[0].exit_code == 137


def test_bad_requests_are_rejected_in_one_line(backend: tuple[Runtime, Flavour]) -> None:
    runtime, flavour = backend
    with pytest.raises(BackendRejected, match="not managed"):
        runtime.restart("ghost")
    with pytest.raises(BackendRejected, match="not managed"):
        runtime.scale("ghost", 2)
    if flavour.kind == "local":
        bad = ServiceSpec(name="bad", command=["no-such-binary-sre"])
    else:
        bad = ServiceSpec(name="bad", image="local/no-such-image:none", command=["true"])
    with pytest.raises(BackendRejected) as err:
        runtime.apply(bad)
    assert "\n" not in str(err.value) and "bad" in str(err.value)
    assert runtime.services() == []
