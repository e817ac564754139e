"""Where the command line finds the system: the gateway and its keys, and the broker. Commands that
work on a service's database (`projection rebuild`, `outbox purge`, `inbox purge`) read that
service's own settings instead (REGISTRY_DATABASE_URL and so on), as the service itself does."""

from __future__ import annotations

import importlib
from pathlib import Path

import typer
from fastapi import FastAPI
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.kit.app import ServiceDefinition
from services.kit.settings import ServiceSettings

# `make run` writes the admin key here (deploy/embedded.py).
LOCAL_ADMIN_KEY = Path("var") / "admin-key"
# The services with an outbox and an inbox, by app module: a new service is one line here.
SERVICES = {
    "registry": "services.registry.app",
    "subsidy": "services.subsidy.app",
    "sharing": "services.sharing.app",
}


class CliSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RONGCHANG_", extra="ignore")

    gateway_url: str = "http://127.0.0.1:8000"
    admin_key: SecretStr | None = None
    api_key: SecretStr | None = None
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    timeout_s: float = 60.0

    def admin(self) -> str:
        if self.admin_key is not None:
            return self.admin_key.get_secret_value()
        if LOCAL_ADMIN_KEY.exists():
            return LOCAL_ADMIN_KEY.read_text(encoding="utf-8").strip()
        raise fail("no admin key: set RONGCHANG_ADMIN_KEY (or run from the repository root after `make run`)")

    def key(self) -> str:
        if self.api_key is None:
            raise fail("no API key: set RONGCHANG_API_KEY to a key of the agency whose data is imported")
        return self.api_key.get_secret_value()


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def service_app(service: str) -> tuple[ServiceDefinition, ServiceSettings]:
    """The service's definition and settings, from its own environment variables; nothing starts."""
    if service not in SERVICES:
        raise fail(f"no service {service!r}: one of {', '.join(SERVICES)}")
    try:
        app: FastAPI = importlib.import_module(SERVICES[service]).create_app()
    except ValueError as exc:  # settings refused (a development secret outside DEVELOPMENT_MODE, say)
        raise fail(f"{service}'s settings: {exc}") from exc
    return app.state.definition, app.state.settings
