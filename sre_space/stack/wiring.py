"""Run-time wiring of the fleet: ports, endpoints and links added to each desired spec.

The desired state says *what* runs; the wiring says *where* its neighbours are in this stack
(embedded or real infrastructure), so the same fleet.yaml runs anywhere.
"""

from __future__ import annotations

from pathlib import Path

from sre_space.config import Settings
from sre_space.errors import PrerequisiteError
from sre_space.models.fleet import FleetSpec, ServiceSpec
from sre_space.net import free_port, port_in_use
from sre_space.stack.flags import flags_path

HOST = "127.0.0.1"
INFRA = frozenset({"broker", "otlp", "trace_query", "control", "incidents"})  # ports set by SRE_PORTS__*


def link_variable(service: str) -> str:
    """Environment variable holding a service's base URL: ``user-service`` -> ``USER_SERVICE_URL``."""
    return service.upper().replace("-", "_") + "_URL"


class Wiring:
    """Resolved ports and endpoints of one stack; ``render`` turns a desired spec into a runnable one."""

    def __init__(self, settings: Settings, fleet: FleetSpec) -> None:
        self.settings = settings
        self.home = settings.home.resolve()
        auto = settings.ports.auto
        infra = {
            "broker": settings.ports.broker if settings.embedded_broker else None,
            "otlp": settings.ports.otlp if settings.embedded_traces else None,
            "trace_query": settings.ports.trace_query if settings.embedded_traces else None,
            "control": settings.ports.control,
            "incidents": settings.ports.incidents,
        }
        self.ports: dict[str, int] = {}
        for name, port in infra.items():
            if port is not None:
                self.ports[name] = free_port() if auto or port == 0 else port
        for spec in fleet.services:
            if spec.port is not None:
                self.ports[spec.name] = free_port() if auto or spec.port == 0 else spec.port

    def check_ports_free(self) -> None:
        """Fail fast, naming the first port that something else already holds."""
        for name, port in self.ports.items():
            if port_in_use(port, HOST):
                hint = "set SRE_PORTS__AUTO=true to pick free ports, or change it in"
                where = "deploy/fleet.yaml" if name not in INFRA else (
                    f"SRE_PORTS__{name.upper()}"
                )
                raise PrerequisiteError(f"port {port} ({name}) is already in use: {hint} {where}")

    @property
    def kafka_bootstrap(self) -> str:
        return self.settings.kafka_bootstrap_servers or f"{HOST}:{self.ports['broker']}"

    @property
    def otlp_endpoint(self) -> str:
        return self.settings.otlp_endpoint or f"http://{HOST}:{self.ports['otlp']}"

    @property
    def trace_query_url(self) -> str | None:
        if self.settings.jaeger_query_url:
            return self.settings.jaeger_query_url.rstrip("/")
        return f"http://{HOST}:{self.ports['trace_query']}" if "trace_query" in self.ports else None

    @property
    def control_url(self) -> str:
        return f"http://{HOST}:{self.ports['control']}"

    @property
    def incidents_url(self) -> str:
        return f"http://{HOST}:{self.ports['incidents']}"

    def service_url(self, name: str) -> str:
        return f"http://{HOST}:{self.ports[name]}"

    def data_dir(self, service: str) -> Path:
        return self.home / "data" / service


    def render(self, spec: ServiceSpec, fleet: FleetSpec) -> ServiceSpec:
        """The spec with ports, infrastructure endpoints and links to every other service."""
        env: dict[str, str | int | float | bool] = {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "OTEL_EXPORTER_OTLP_ENDPOINT": self.otlp_endpoint,
            "DATA_DIR": str(self.data_dir(spec.name)),
            "FLAGS_FILE": str(flags_path(self.home, spec.name)),
        }
        for other in fleet.services:
            if other.port is not None and other.name != spec.name:
                env[link_variable(other.name)] = self.service_url(other.name)
        config = {**env, **spec.config}
        if spec.name == "traffic" and self.settings.traffic_rate is not None:
            config["JOURNEYS_PER_SECOND"] = self.settings.traffic_rate
        update: dict[str, object] = {"config": config}
        if spec.port is not None:
            update["port"] = self.ports[spec.name]
        return spec.model_copy(update=update)
