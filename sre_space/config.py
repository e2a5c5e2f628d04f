"""The one settings tree: environment variables (``SRE_*``, ``__`` for nesting), standard
variables where they exist (``KAFKA_BOOTSTRAP_SERVERS``, ``OTEL_EXPORTER_OTLP_ENDPOINT``,
``JAEGER_QUERY_URL``, ``DOCKER_HOST``, ...) and an optional ``sre-space.yaml``.

Nothing else in the control plane reads ``os.environ``: settings are built once by the CLI
and passed down.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import AliasChoices, BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from sre_space.errors import ConfigError
from sre_space.models.scout import ScoutSettings

CONFIG_FILE_ENV = "SRE_CONFIG_FILE"
DEFAULT_CONFIG_FILE = "sre-space.yaml"


class PortSettings(BaseModel):
    """Ports of the embedded infrastructure on 127.0.0.1 (the fleet's are in fleet.yaml).

    ``auto=True`` (``SRE_PORTS__AUTO=true``) picks free ports for everything, fleet included,
    so that several stacks (or test runs) never collide.
    """

    auto: bool = False
    broker: int = Field(19092, ge=0, le=65535)
    otlp: int = Field(4318, ge=0, le=65535)
    trace_query: int = Field(16686, ge=0, le=65535)
    control: int = Field(8090, ge=0, le=65535)
    incidents: int = Field(8091, ge=0, le=65535)


class RuntimeSettings(BaseModel):
    """Which runtime runs the fleet: local processes (default) or a Docker engine."""

    kind: Literal["local", "docker"] = "local"
    docker_host: str | None = None
    docker_network: str = "sre-space"
    image_prefix: str = "insurecloud"


class TrackerSettings(BaseModel):
    """Where incidents are tracked: ``local`` SQLite or ``github``; unset means GitHub when
    ``GITHUB_TOKEN`` and ``GITHUB_REPOSITORY`` are both set, else local."""

    kind: Literal["local", "github"] | None = None


class WorkflowSettings(BaseModel):
    """The control-plane workflow (``SRE_WORKFLOW__*``): where work items come from, when a plan
    waits for approval, how long verification may take, and the worker's lease."""

    topic: str = Field("sre.incidents", min_length=1, description="Kafka topic of incident work items")
    group: str = Field("sre-workflow", min_length=1, description="consumer group of the workflow workers")
    approval_risk: float = Field(0.5, ge=0.0, le=1.0, description="plans riskier than this wait for approval")
    approval_poll_s: float = Field(2.0, gt=0, description="how often waiting incidents are checked for `approved`")
    verify_timeout_s: float = Field(90.0, gt=0, description="deadline for an action's effect, from the action")
    verify_interval_s: float = Field(1.0, gt=0, description="pause between health checks while verifying")
    verify_stable_checks: int = Field(3, ge=1, description="consecutive healthy checks that count as mitigated")
    max_attempts: int = Field(2, ge=1, description="plans tried per run before the incident is escalated")
    lease_ttl_s: float = Field(30.0, gt=0, description="an incident lease not renewed for this long is free")
    concurrency: int = Field(4, ge=1, description="incidents one worker drives at the same time")


class LLMSettings(BaseModel):
    """Brain's optional LLM (any OpenAI-compatible server); used only when ``OPENAI_API_KEY`` or
    ``OPENAI_BASE_URL`` is set, otherwise the RCA engine decides alone."""

    model: str = Field("gpt-4o-mini", min_length=1, description="model name sent to the server")
    timeout_s: float = Field(30.0, gt=0, description="a slower answer falls back to the engine's decision")
    max_tokens: int = Field(700, ge=200, description="must exceed the answer's string limits plus ~60")


class Settings(BaseSettings):
    """Effective configuration of SRE-Space."""

    model_config = SettingsConfigDict(
        env_prefix="SRE_",
        env_nested_delimiter="__",
        extra="ignore",
        populate_by_name=True,
    )

    home: Path = Field(
        default=Path(".sre-space"),
        validation_alias=AliasChoices("SRE_SPACE_HOME", "SRE_HOME"),
        description="state directory: logs, databases, PID files, the GitOps repository",
    )
    fleet_file: Path = Field(
        default=Path("deploy/fleet.yaml"), description="desired state the GitOps repository is seeded from"
    )
    ports: PortSettings = PortSettings()
    agents: bool = Field(default=True, description="run the control plane (Scout + workflow) with the stack")
    traffic_rate: float | None = Field(
        default=None, ge=0, description="journeys per second of the traffic generator (overrides fleet.yaml)"
    )
    runtime: RuntimeSettings = RuntimeSettings()
    tracker: TrackerSettings = TrackerSettings()
    scout: ScoutSettings = ScoutSettings()
    workflow: WorkflowSettings = WorkflowSettings()
    llm: LLMSettings = LLMSettings()

    kafka_bootstrap_servers: str | None = Field(
        default=None,
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "SRE_KAFKA_BOOTSTRAP_SERVERS"),
        description="use this Kafka instead of the embedded broker",
    )
    otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT", "SRE_OTLP_ENDPOINT"),
        description="send spans here instead of the embedded trace store",
    )
    jaeger_query_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("JAEGER_QUERY_URL", "SRE_JAEGER_QUERY_URL"),
        description="read traces from this Jaeger query API instead of the embedded store",
    )
    chroma_host: str | None = Field(default=None, validation_alias=AliasChoices("CHROMA_HOST"))
    chroma_port: int = Field(default=8000, validation_alias=AliasChoices("CHROMA_PORT"))
    openai_api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("OPENAI_API_KEY"))
    openai_base_url: str | None = Field(default=None, validation_alias=AliasChoices("OPENAI_BASE_URL"))
    github_token: SecretStr | None = Field(default=None, validation_alias=AliasChoices("GITHUB_TOKEN"))
    github_repository: str | None = Field(default=None, validation_alias=AliasChoices("GITHUB_REPOSITORY"))
    github_api_url: str | None = Field(default=None, validation_alias=AliasChoices("GITHUB_API_URL"))
    jules_api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("JULES_API_KEY"))
    docker_host: str | None = Field(default=None, validation_alias=AliasChoices("DOCKER_HOST"))

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Precedence: explicit arguments, then the environment, then sre-space.yaml.
        return init_settings, env_settings, _YamlSource(settings_cls)

    @property
    def embedded_broker(self) -> bool:
        return self.kafka_bootstrap_servers is None

    @property
    def embedded_traces(self) -> bool:
        return self.otlp_endpoint is None and self.jaeger_query_url is None

    def masked(self) -> dict[str, Any]:
        """The effective configuration as plain data, secrets replaced by ``**********``."""
        data = self.model_dump(mode="json")
        for name, field in type(self).model_fields.items():
            if field.annotation is not None and "SecretStr" in str(field.annotation):
                data[name] = "**********" if getattr(self, name) is not None else None
        return data


class _YamlSource(PydanticBaseSettingsSource):
    """Reads ``sre-space.yaml`` (or the file named by ``SRE_CONFIG_FILE``) when it exists."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        explicit = os.environ.get(CONFIG_FILE_ENV)
        path = Path(explicit or DEFAULT_CONFIG_FILE)
        if not path.exists():
            if explicit:
                raise ConfigError(f"{CONFIG_FILE_ENV}={explicit}: no such file")
            return {}
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({_first_line(exc)})") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping of settings at the top level")
        return data


def load_settings(**overrides: Any) -> Settings:
    """Build the settings once; every validation problem becomes one readable ``ConfigError``."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "settings"
        env = "SRE_" + "__".join(str(p) for p in err["loc"]).upper()
        raise ConfigError(f"invalid configuration {where} (env {env}): {err['msg']}") from exc


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def process_environment() -> dict[str, str]:
    """A copy of this process's environment, for the children the launcher and runtimes start."""
    return dict(os.environ)
