"""Desired state of the fleet: the typed form of ``deploy/fleet.yaml``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sre_space.errors import ConfigError

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,40}$")
ConfigValue = str | int | float | bool


class ServiceSpec(BaseModel):
    """One service of the fleet as the runtime should run it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    command: list[str] = Field(default_factory=list, description="argv for the local runtime")
    image: str | None = Field(default=None, description="image for the docker runtime")
    version: str = "0.1.0"
    replicas: int = Field(1, ge=0, le=20)
    memory_mb: int = Field(256, ge=16, le=65536)
    cpus: float = Field(1.0, gt=0, le=64)
    port: int | None = Field(default=None, ge=0, le=65535, description="HTTP port; 0 = pick a free one")
    health_path: str = "/health"
    ready_path: str = "/ready"
    depends_on: list[str] = Field(default_factory=list)
    config: dict[str, ConfigValue] = Field(default_factory=dict, description="knobs passed as env vars")

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("lower-case letters, digits and '-', starting with a letter")
        return value

    def env(self) -> dict[str, str]:
        """The config knobs as environment variables (booleans as ``true``/``false``)."""
        return {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in self.config.items()}


class FleetSpec(BaseModel):
    """The whole desired state: services in dependency order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    api_version: str = Field("sre-space/v1", alias="apiVersion")
    name: str = "insurecloud"
    services: list[ServiceSpec]

    def service(self, name: str) -> ServiceSpec:
        for spec in self.services:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def names(self) -> list[str]:
        return [s.name for s in self.services]

    def start_order(self) -> list[ServiceSpec]:
        """Services ordered so that each comes after what it depends on."""
        by_name = {s.name: s for s in self.services}
        ordered: list[ServiceSpec] = []
        state: dict[str, int] = {}

        def visit(name: str, path: tuple[str, ...]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                raise ConfigError(f"dependency cycle {' -> '.join((*path, name))}")
            state[name] = 1
            for dep in by_name[name].depends_on:
                visit(dep, (*path, name))
            state[name] = 2
            ordered.append(by_name[name])

        for spec in self.services:
            visit(spec.name, ())
        return ordered


def parse_fleet(text: str, source: str = "fleet.yaml") -> FleetSpec:
    """Parse fleet YAML; every problem becomes one ``ConfigError`` naming the file and field."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ConfigError(f"{source}: not valid YAML ({first})") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("services"), dict):
        raise ConfigError(f"{source}: expected a mapping with a 'services:' mapping of name -> spec")
    services: list[dict[str, Any]] = []
    for name, body in raw["services"].items():
        if not isinstance(body, dict):
            raise ConfigError(f"{source}: services.{name}: expected a mapping")
        services.append({"name": name, **body})
    try:
        fleet = FleetSpec.model_validate({**{k: v for k, v in raw.items() if k != "services"}, "services": services})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = list(err["loc"])
        if len(loc) >= 2 and loc[0] == "services" and isinstance(loc[1], int):
            loc[1] = services[loc[1]]["name"]
        raise ConfigError(f"{source}: {'.'.join(map(str, loc))}: {err['msg']}") from exc
    known = set(fleet.names())
    for spec in fleet.services:
        missing = [d for d in spec.depends_on if d not in known]
        if missing:
            raise ConfigError(f"{source}: services.{spec.name}.depends_on: unknown {', '.join(missing)}")
    try:
        fleet.start_order()
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from exc
    return fleet


def load_fleet(path: Path) -> FleetSpec:
    """Read and parse a fleet file."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read fleet file ({exc.strerror})") from exc
    return parse_fleet(text, str(path))
