"""Settings: defaults, environment, sre-space.yaml, precedence and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from sre_space.config import load_settings
from sre_space.errors import ConfigError


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("KAFKA_BOOTSTRAP_SERVERS", "OTEL_EXPORTER_OTLP_ENDPOINT", "JAEGER_QUERY_URL", "OPENAI_API_KEY",
                "SRE_SPACE_HOME", "SRE_CONFIG_FILE", "SRE_PORTS__AUTO", "SRE_RUNTIME__KIND"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults_are_the_embedded_stack() -> None:
    s = load_settings()
    assert s.embedded_broker and s.embedded_traces
    assert s.runtime.kind == "local"
    assert s.home == Path(".sre-space")


def test_standard_variables_switch_to_real_infrastructure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setenv("JAEGER_QUERY_URL", "http://jaeger:16686")
    s = load_settings()
    assert s.kafka_bootstrap_servers == "kafka:9092"
    assert not s.embedded_broker and not s.embedded_traces


def test_nested_env_and_state_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SRE_PORTS__AUTO", "true")
    monkeypatch.setenv("SRE_SPACE_HOME", "/tmp/x")
    s = load_settings()
    assert s.ports.auto is True
    assert s.home == Path("/tmp/x")


def test_yaml_file_is_read_and_env_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "sre-space.yaml").write_text("ports:\n  broker: 29092\nruntime:\n  kind: docker\n")
    assert load_settings().ports.broker == 29092
    monkeypatch.setenv("SRE_RUNTIME__KIND", "local")
    assert load_settings().runtime.kind == "local"


@pytest.mark.parametrize(
    ("env", "value", "message"),
    [
        ("SRE_RUNTIME__KIND", "k8s", "runtime.kind (env SRE_RUNTIME__KIND)"),  # typo in a backend name
        ("SRE_PORTS__BROKER", "abc", "ports.broker"),  # not a number
        ("SRE_PORTS__BROKER", "70000", "ports.broker"),  # out of range
    ],
)
def test_bad_values_are_one_line_errors(monkeypatch: pytest.MonkeyPatch, env: str, value: str, message: str) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [("ports: [1, 2", "not valid YAML"), ("- a\n- b\n", "expected a mapping")],
)
def test_broken_config_file(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "sre-space.yaml").write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_missing_explicit_config_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SRE_CONFIG_FILE", "/nonexistent.yaml")
    with pytest.raises(ConfigError, match="no such file"):
        load_settings()


def test_secrets_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret")
    masked = load_settings().masked()
    assert masked["openai_api_key"] == "**********"
    assert "sk-very-secret" not in str(masked)
