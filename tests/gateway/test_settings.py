"""Gateway settings come from GATEWAY_* variables, and the bootstrap key also from SPEC's name."""

from __future__ import annotations

import pytest

from services.gateway.settings import GatewaySettings


def test_bootstrap_admin_key_is_read_from_the_spec_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATEWAY_BOOTSTRAP_ADMIN_KEY", raising=False)
    monkeypatch.setenv("BOOTSTRAP_ADMIN_KEY", "from-spec-name")
    key = GatewaySettings().bootstrap_admin_key
    assert key is not None and key.get_secret_value() == "from-spec-name"


def test_prefixed_variables_configure_the_gateway(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BOOTSTRAP_ADMIN_KEY", raising=False)
    monkeypatch.setenv("GATEWAY_BOOTSTRAP_ADMIN_KEY", "from-prefixed-name")
    monkeypatch.setenv("GATEWAY_REGISTRY_URL", "http://127.0.0.1:9101")
    monkeypatch.setenv("GATEWAY_RATE_LIMIT_BURST", "7")
    settings = GatewaySettings()
    assert settings.bootstrap_admin_key is not None
    assert settings.bootstrap_admin_key.get_secret_value() == "from-prefixed-name"
    assert settings.registry_url == "http://127.0.0.1:9101"
    assert settings.rate_limit_burst == 7


def test_defaults_are_the_embedded_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BOOTSTRAP_ADMIN_KEY", "GATEWAY_BOOTSTRAP_ADMIN_KEY", "GATEWAY_DATABASE_URL", "GATEWAY_REGISTRY_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = GatewaySettings()
    assert settings.bootstrap_admin_key is None
    assert settings.database_url == "sqlite+aiosqlite:///var/gateway.db"
    assert (settings.registry_url, settings.subsidy_url, settings.sharing_url) == (
        "http://127.0.0.1:8001",
        "http://127.0.0.1:8002",
        "http://127.0.0.1:8003",
    )
