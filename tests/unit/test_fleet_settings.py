"""Every knob in deploy/fleet.yaml reaches the service's settings under the name the launcher uses."""

from __future__ import annotations

import pytest

from services.common.settings import ServiceSettings
from sre_space.models.fleet import ServiceSpec, load_fleet
from tests.conftest import ROOT

FLEET = load_fleet(ROOT / "deploy" / "fleet.yaml")


@pytest.mark.parametrize("spec", FLEET.services, ids=FLEET.names())
def test_fleet_knobs_parse(spec: ServiceSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    env = spec.env()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SERVICE_NAME", spec.name)
    settings = ServiceSettings()
    for key, value in env.items():
        field = key.lower()
        assert field in ServiceSettings.model_fields, f"{spec.name}: knob {key} is not a setting"
        parsed = getattr(settings, field)
        expected = type(parsed)(value) if not isinstance(parsed, bool) else value == "true"
        assert parsed == expected, key


def test_circuit_breaker_off_and_instance_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIRCUIT_BREAKER", "false")
    monkeypatch.setenv("SERVICE_NAME", "quote-service")
    monkeypatch.setenv("PORT", "8081")
    monkeypatch.delenv("SERVICE_INSTANCE", raising=False)
    settings = ServiceSettings()
    assert settings.circuit_breaker is False and settings.instance_id == "quote-service-8081"
