"""Settings of an InsureCloud service: the only place in ``services/`` that reads the environment.

Every service reads the same variables (unknown ones are ignored), so one class serves all five.
Identity and wiring come from the launcher; knobs come from the ``config:`` block of
``deploy/fleet.yaml``.

Identity and wiring:
    SERVICE_NAME, SERVICE_VERSION, SERVICE_INSTANCE, HOST (127.0.0.1), PORT, DATA_DIR (state:
    SQLite files, journey records), DEPLOYMENT_ENVIRONMENT (demo), LOG_LEVEL (INFO).
    KAFKA_BOOTSTRAP_SERVERS; OTEL_EXPORTER_OTLP_ENDPOINT (base URL, traces go to
    ``<base>/v1/traces``; unset = spans are created but not exported).
    USER_SERVICE_URL, QUOTE_SERVICE_URL, POLICY_SERVICE_URL, FRONTEND_URL.
    FLAGS_FILE: optional JSON file of runtime flags, re-read when it changes (see flags.py).

Knobs (fleet.yaml ``config:``):
    HTTP_TIMEOUT_S, HTTP_RETRIES: per outgoing call; retries back off exponentially from
        HTTP_RETRY_BACKOFF_S.
    CIRCUIT_BREAKER (true/false), BREAKER_FAILURES (consecutive failures that open it),
        BREAKER_RESET_S (seconds open before one trial call).
    DB_POOL_SIZE: SQLite connections per process; DB_POOL_TIMEOUT_S: wait for a free one.
    USER_COUNT: users seeded by user-service (traffic picks ids in 1..USER_COUNT).
    PRICING_MODEL: quote-service pricing table (see services/quote/pricing.py).
    MAX_POLICY_PREMIUM: policy-service refuses policies above this premium.
    JOURNEYS_PER_SECOND, CONCURRENCY, JOURNEY_TIMEOUT_S, POLL_INTERVAL_S, JOURNEY_LIMIT
        (0 = unlimited): the traffic generator.
    KAFKA_SEND_TIMEOUT_S: how long a publish waits for the broker's acknowledgement.
    SHUTDOWN_GRACE_S: time in-flight requests get after SIGTERM.
    TRACE_PROBES: also trace /health, /ready and /metrics (off: probes would flood the store).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Typed environment of one service process."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False, frozen=True)

    service_name: str = "insurecloud"
    service_version: str = "0.1.0"
    service_instance: str = ""
    deployment_environment: str = "demo"
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    data_dir: Path = Path(".sre-space/data")
    log_level: str = "INFO"

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    otel_exporter_otlp_endpoint: str | None = None

    user_service_url: str = "http://127.0.0.1:8083"
    quote_service_url: str = "http://127.0.0.1:8081"
    policy_service_url: str = "http://127.0.0.1:8082"
    frontend_url: str = "http://127.0.0.1:8080"
    flags_file: Path | None = None

    http_timeout_s: float = Field(2.0, gt=0)
    http_retries: int = Field(1, ge=0, le=10)
    http_retry_backoff_s: float = Field(0.05, ge=0)
    circuit_breaker: bool = True
    breaker_failures: int = Field(5, ge=1)
    breaker_reset_s: float = Field(5.0, gt=0)
    db_pool_size: int = Field(4, ge=1, le=64)
    db_pool_timeout_s: float = Field(2.0, gt=0)

    user_count: int = Field(500, ge=1)
    pricing_model: str = "standard"
    max_policy_premium: float = Field(10000.0, gt=0)

    journeys_per_second: float = Field(2.0, ge=0)
    concurrency: int = Field(4, ge=1, le=256)
    journey_timeout_s: float = Field(15.0, gt=0)
    poll_interval_s: float = Field(0.2, gt=0)
    journey_limit: int = Field(0, ge=0)

    kafka_send_timeout_s: float = Field(5.0, gt=0)
    shutdown_grace_s: float = Field(3.0, ge=0)
    trace_probes: bool = False

    @property
    def instance_id(self) -> str:
        """``SERVICE_INSTANCE`` or ``<service>-<port>`` when the launcher did not set one."""
        return self.service_instance or f"{self.service_name}-{self.port}"

    def data_path(self, filename: str) -> Path:
        """A file under DATA_DIR (the directory is created on first use)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir / filename


def load_settings(**overrides: object) -> ServiceSettings:
    """Settings from the environment; keyword overrides win (tests, one-off tools)."""
    return ServiceSettings(**overrides)  # type: ignore[arg-type]
