"""fleet.yaml parsing: the shipped file, start order, and one-line errors for broken files."""

from __future__ import annotations

from pathlib import Path

import pytest

from sre_space.errors import ConfigError
from sre_space.models.fleet import load_fleet, parse_fleet

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_fleet_parses_in_dependency_order() -> None:
    fleet = load_fleet(ROOT / "deploy" / "fleet.yaml")
    order = [s.name for s in fleet.start_order()]
    assert set(order) == {"user-service", "quote-service", "policy-service", "frontend", "traffic"}
    assert order.index("user-service") < order.index("quote-service") < order.index("frontend")
    assert order.index("frontend") < order.index("traffic")
    assert all(s.memory_mb > 0 and s.port for s in fleet.services)


def test_config_knobs_become_env_strings() -> None:
    spec = parse_fleet("services:\n  a:\n    config: {CIRCUIT_BREAKER: true, HTTP_RETRIES: 2}\n").service("a")
    assert spec.env() == {"CIRCUIT_BREAKER": "true", "HTTP_RETRIES": "2"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("services: [", "not valid YAML"),  # broken YAML
        ("name: x\n", "'services:' mapping"),  # no services
        ("services:\n  a: 3\n", "services.a: expected a mapping"),  # body not a mapping
        ("services:\n  a: {replicas: -1}\n", "services.a.replicas"),  # out of range, named by service
        ("services:\n  a: {memroy_mb: 5}\n", "services.a.memroy_mb"),  # typo in a field
        ("services:\n  A_b: {}\n", "services.A_b.name"),  # invalid name
        ("services:\n  a: {depends_on: [zz]}\n", "unknown zz"),  # unknown dependency
        ("services:\n  a: {depends_on: [b]}\n  b: {depends_on: [a]}\n", "dependency cycle"),  # cycle
    ],
)
def test_broken_fleet_files(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_fleet(text, "fleet.yaml")
    assert message in str(info.value)
    assert str(info.value).startswith("fleet.yaml")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read fleet file"):
        load_fleet(tmp_path / "missing.yaml")
