"""The docker runtime: the fleet as labelled containers on a Docker Engine (Docker SDK 7.x).

- One container per instance, named ``<fleet>-<service>-<index>`` and labelled
  ``sre-space.fleet/service/instance/version`` plus ``sre-space.spec`` (the applied spec as
  JSON), so the engine alone is the record of what runs: a new control plane adopts it.
- ``mem_limit`` = ``memswap_limit`` (no swap) and ``nano_cpus`` from the spec; ``init=True``;
  a user-defined bridge network where every instance answers to its service name.
- ``PORT`` inside the container is ``spec.port`` (8080 when it is 0); it is published on
  127.0.0.1: replica 0 on ``spec.port``, the others (and port 0) on a port the engine picks.
- The engine restarts crashed containers (policy ``unless-stopped``); exit codes, OOM kills and
  restart counts come from its event stream (``docker_watch.py``) and ``State``.
- The host environment never crosses into containers: ``env`` holds only what every
  container should get, each service's knobs come from its spec.
SDK exceptions become ``BackendUnavailable`` (engine unreachable) or ``BackendRejected``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from sre_space.adapters.runtime.base import RuntimeEvent, RuntimeEventKind, ServiceState
from sre_space.adapters.runtime.docker_inspect import (
    LABEL_SPEC,
    LABEL_VERSION,
    index_of,
    instance_state,
    same_but_replicas,
    spec_of,
)
from sre_space.adapters.runtime.docker_watch import LABEL_FLEET, LABEL_INSTANCE, LABEL_SERVICE, EngineWatch
from sre_space.adapters.runtime.events import EventLog
from sre_space.adapters.runtime.health import wait_ready
from sre_space.errors import BackendRejected, BackendUnavailable, PrerequisiteError, SREError
from sre_space.models.fleet import ServiceSpec

DEFAULT_HOST = "unix:///var/run/docker.sock"
DEFAULT_CONTAINER_PORT = 8080


class DockerRuntime:
    """``Runtime`` on a Docker Engine; thread-safe (mutations are serialised)."""

    kind = "docker"
    memory_enforcement = "engine"
    cpu_enforcement = "engine"

    def __init__(
        self,
        docker_host: str | None = None,
        *,
        network: str = "sre-space",
        fleet: str = "sre-space",
        env: Mapping[str, str] | None = None,
        stop_timeout: int = 5,
        restart_policy: str = "unless-stopped",
    ) -> None:
        try:
            import docker
        except ImportError as exc:
            missing = "docker runtime: the Docker SDK is missing (pip install 'sre-space[docker]')"
            raise PrerequisiteError(missing) from exc
        self._docker = docker
        self.host = docker_host or DEFAULT_HOST
        self.fleet, self.network = fleet, network
        self._env = dict(env or {})
        self._stop_timeout = stop_timeout
        self._restart_policy = restart_policy
        self._ops = threading.RLock()
        self._events = EventLog()
        with self._engine("connect"):
            self._client = docker.DockerClient(base_url=self.host, timeout=60)
            self._client.ping()
            self._created_network = self._ensure_network()
            # The event stream blocks a connection for good: it gets its own client.
            self._watch = EngineWatch(docker.DockerClient(base_url=self.host), fleet, self._events)

    def check(self) -> str:
        """One line naming the engine (for ``sre-space status`` / prerequisites)."""
        with self._engine("version"):
            info = self._client.version()
        return f"docker engine {info.get('Version')} (API {info.get('ApiVersion')}) at {self.host}"

    # -- the Runtime port -----------------------------------------------------------------------
    def apply(self, spec: ServiceSpec) -> ServiceState:
        """Create, scale, or replace (one container at a time) to match ``spec``."""
        with self._ops, self._engine(f"apply {spec.name}"):
            self._check_image(spec)
            current = self._containers(spec.name)
            for container in current:
                index = index_of(container)
                old = spec_of(container)
                if index >= spec.replicas:
                    self._remove(container)
                elif old is None or not same_but_replicas(old, spec):
                    self._remove(container)
                    self._create(spec, index)
            present = {index_of(c) for c in current}
            for index in range(spec.replicas):
                if index not in present:
                    self._create(spec, index)
            if current and len(current) != spec.replicas:
                self._scaled(spec.name, len(current), spec.replicas)
            return self.state(spec.name)

    def restart(self, service: str) -> ServiceState:
        """``docker restart`` each container in turn; returns once the engine reports it started."""
        with self._ops, self._engine(f"restart {service}"):
            for container in self._known(service):
                before = self._watch.starts(container.id)
                self._watch.expect_exit(container.id, None)
                try:
                    container.restart(timeout=self._stop_timeout)
                    self._watch.wait_started(container.id, before)
                finally:
                    self._watch.expect_exit(container.id, None, done=True)
            return self.state(service)

    def stop(self, service: str) -> None:
        with self._ops, self._engine(f"stop {service}"):
            for container in self._containers(service):
                self._remove(container)

    def scale(self, service: str, replicas: int) -> ServiceState:
        if replicas < 0:
            raise BackendRejected(f"{service}: replicas must be >= 0, got {replicas}")
        with self._ops, self._engine(f"scale {service}"):
            current = self._known(service)
            spec = spec_of(current[0])
            if spec is None:
                raise BackendRejected(f"{service}: containers carry no {LABEL_SPEC} label; apply it first")
            for container in current:
                if index_of(container) >= replicas:
                    self._remove(container)
            present = {index_of(c) for c in current}
            for index in range(replicas):
                if index not in present:
                    self._create(spec.model_copy(update={"replicas": replicas}), index)
            self._scaled(service, len(current), replicas)
            return self.state(service)

    def state(self, service: str) -> ServiceState:
        with self._engine(f"inspect {service}"):
            containers = self._containers(service)
            if not containers:
                return ServiceState(service=service)
            spec = spec_of(containers[0])
            if spec is not None:
                spec = spec.model_copy(update={"replicas": len(containers)})
            return ServiceState(
                service=service, spec=spec, instances=[instance_state(c, self._watch) for c in containers]
            )

    def services(self) -> list[str]:
        with self._engine("list containers"):
            found = self._client.containers.list(all=True, filters={"label": f"{LABEL_FLEET}={self.fleet}"})
        return sorted({c.labels.get(LABEL_SERVICE, "") for c in found} - {""})

    def events(self, since: datetime | None = None) -> list[RuntimeEvent]:
        return self._events.since(since)

    def logs(self, service: str, tail: int = 100) -> list[str]:
        """Last ``tail`` lines of each container (prefixed ``[instance]`` when several)."""
        with self._engine(f"logs {service}"):
            containers = self._containers(service)
            lines: list[str] = []
            for c in containers:
                text = c.logs(tail=tail, stdout=True, stderr=True).decode("utf-8", errors="replace")
                prefix = f"[{c.labels.get(LABEL_INSTANCE)}] " if len(containers) > 1 else ""
                lines.extend(prefix + line for line in text.splitlines())
            return lines

    def wait_ready(self, service: str, timeout: float = 30.0) -> ServiceState:
        """Poll every container's published health path until all answer 2xx."""
        return wait_ready(self, service, timeout)

    def close(self) -> None:
        """Remove every container of this fleet, stop following events, drop our network."""
        with self._ops:
            with contextlib.suppress(SREError):
                for name in self.services():
                    self.stop(name)
            self._watch.close()
            if self._created_network:
                with contextlib.suppress(Exception):
                    self._client.networks.get(self.network).remove()
            self._client.close()

    # -- internals ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _engine(self, what: str) -> Iterator[None]:
        """Translate SDK errors at the boundary into the project's error tree."""
        errors = self._docker.errors
        try:
            yield
        except SREError:
            raise
        except errors.ImageNotFound as exc:
            raise BackendRejected(f"docker: {what}: image not found locally ({_explain(exc)})") from exc
        except errors.APIError as exc:
            raise BackendRejected(f"docker: {what}: {_explain(exc)}") from exc
        except (errors.DockerException, OSError) as exc:
            raise BackendUnavailable(
                f"docker: engine unreachable at {self.host} (set DOCKER_HOST to a running engine): {_explain(exc)}"
            ) from exc

    def _ensure_network(self) -> bool:
        errors = self._docker.errors
        try:
            self._client.networks.get(self.network)
            return False
        except errors.NotFound:
            pass
        try:
            self._client.networks.create(self.network, driver="bridge", labels={LABEL_FLEET: self.fleet})
        except errors.APIError:
            self._client.networks.get(self.network)  # created meanwhile by someone else: fine
            return False
        return True

    def _containers(self, service: str) -> list[Any]:
        labels = [f"{LABEL_FLEET}={self.fleet}", f"{LABEL_SERVICE}={service}"]
        found = self._client.containers.list(all=True, filters={"label": labels}, ignore_removed=True)
        return sorted((c for c in found if c.status != "removing"), key=index_of)

    def _known(self, service: str) -> list[Any]:
        current = self._containers(service)
        if not current:
            raise BackendRejected(f"{service}: not managed by the docker runtime (apply it first)")
        return current

    def _check_image(self, spec: ServiceSpec) -> None:
        if not spec.image:
            raise BackendRejected(f"{spec.name}: no image (the docker runtime needs `image:`)")
        try:
            self._client.images.get(spec.image)
        except self._docker.errors.ImageNotFound as exc:
            raise BackendRejected(
                f"{spec.name}: image {spec.image} is not on the engine (pull or build it; this project: .ci/images.sh)"
            ) from exc

    def _create(self, spec: ServiceSpec, index: int) -> None:
        instance = f"{spec.name}-{index}"
        name = f"{self.fleet}-{instance}"
        with contextlib.suppress(self._docker.errors.NotFound):
            self._client.containers.get(name).remove(force=True)  # a leftover of a crashed control plane
        # HOST: inside a container the service must listen on every interface to be published.
        env = {"HOST": "0.0.0.0", **self._env, **spec.env(), "SERVICE_NAME": spec.name}  # noqa: S104
        env.update(SERVICE_VERSION=spec.version, SERVICE_INSTANCE=instance)
        ports: dict[str, tuple[str, int | None]] = {}
        if spec.port is not None:
            inside = spec.port or DEFAULT_CONTAINER_PORT
            env["PORT"] = str(inside)
            ports[f"{inside}/tcp"] = ("127.0.0.1", spec.port if index == 0 and spec.port else None)
        labels = {
            LABEL_FLEET: self.fleet,
            LABEL_SERVICE: spec.name,
            LABEL_INSTANCE: instance,
            LABEL_VERSION: spec.version,
            LABEL_SPEC: spec.model_dump_json(),
        }
        endpoint = self._client.api.create_endpoint_config(aliases=[spec.name, instance])
        container = self._client.containers.create(
            spec.image,
            command=list(spec.command) or None,
            name=name,
            hostname=instance,
            labels=labels,
            environment=env,
            init=True,
            mem_limit=f"{spec.memory_mb}m",
            memswap_limit=f"{spec.memory_mb}m",
            nano_cpus=int(spec.cpus * 1e9),
            network=self.network,
            networking_config={self.network: endpoint},
            ports=ports,
            restart_policy={"Name": self._restart_policy},
            stop_signal="SIGTERM",
        )
        try:
            container.start()
        except self._docker.errors.APIError:
            with contextlib.suppress(Exception):
                container.remove(force=True)
            raise

    def _remove(self, container: Any) -> None:
        self._watch.expect_exit(container.id, RuntimeEventKind.STOPPED)
        with contextlib.suppress(self._docker.errors.NotFound):
            container.stop(timeout=self._stop_timeout)
            container.remove(force=True)

    def _scaled(self, service: str, before: int, after: int) -> None:
        if before != after:
            self._events.add(service, service, RuntimeEventKind.SCALED, detail=f"{before} -> {after}")


def _explain(exc: BaseException) -> str:
    text = str(getattr(exc, "explanation", None) or exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0][:300]
