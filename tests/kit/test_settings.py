"""A service refuses the public development secrets unless development mode is on."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.gateway.settings import GatewaySettings
from services.registry.settings import RegistrySettings
from services.subsidy.settings import SubsidySettings

REAL = {"INTERNAL_SECRET": "i" * 40, "SUBJECT_KEY": "s" * 40}


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv("DEVELOPMENT_MODE", raising=False)
    return monkeypatch


def test_production_start_up_with_a_default_key_names_it(production: pytest.MonkeyPatch) -> None:
    for name, value in REAL.items():
        production.setenv(f"REGISTRY_{name}", value)
    production.setenv("REGISTRY_BLIND_INDEX_KEY", "b" * 40)
    with pytest.raises(ValidationError) as failure:
        RegistrySettings()
    message = str(failure.value)
    assert "REGISTRY_ID_NUMBER_KEY still hold the public development default" in message
    assert "REGISTRY_BLIND_INDEX_KEY" not in message
    assert "DEVELOPMENT_MODE=1" in message


@pytest.mark.parametrize(
    ("settings_class", "message"),
    [
        (SubsidySettings, r"SUBSIDY_INTERNAL_SECRET, SUBSIDY_SUBJECT_KEY still hold"),
        # The gateway names no person on Kafka: it has no subject key to set.
        (GatewaySettings, r"GATEWAY_INTERNAL_SECRET still hold"),
    ],
)
def test_every_service_refuses_the_shared_defaults(
    production: pytest.MonkeyPatch, settings_class: type, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        settings_class()


def test_real_secrets_start_without_development_mode(production: pytest.MonkeyPatch) -> None:
    for name, value in REAL.items():
        production.setenv(f"SUBSIDY_{name}", value)
    settings = SubsidySettings()
    assert not settings.development_mode
    assert settings.internal_secret.get_secret_value() == "i" * 40


def test_development_mode_accepts_the_defaults(production: pytest.MonkeyPatch) -> None:
    production.setenv("DEVELOPMENT_MODE", "1")
    assert RegistrySettings().development_mode


def test_a_moved_clock_is_refused_outside_development_mode(production: pytest.MonkeyPatch) -> None:
    for name, value in REAL.items():
        production.setenv(f"SUBSIDY_{name}", value)
    production.setenv("SUBSIDY_CLOCK_OFFSET_DAYS", "10")
    with pytest.raises(ValidationError, match="CLOCK_OFFSET_DAYS moves the bureau's clock"):
        SubsidySettings()


def test_a_moved_clock_runs_ahead_by_whole_days() -> None:
    from services.kit.clock import SYSTEM_CLOCK, clock_of

    assert clock_of(0) is SYSTEM_CLOCK
    assert (clock_of(10).today() - SYSTEM_CLOCK.today()).days == 10


@pytest.mark.parametrize("development", ["0", "1"])
def test_an_empty_secret_is_refused_even_in_development_mode(production: pytest.MonkeyPatch, development: str) -> None:
    production.setenv("DEVELOPMENT_MODE", development)
    production.setenv("GATEWAY_INTERNAL_SECRET", "  ")
    with pytest.raises(ValidationError) as failure:
        GatewaySettings()
    assert "GATEWAY_INTERNAL_SECRET is empty" in str(failure.value)
