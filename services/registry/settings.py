"""Settings of the registry service (env prefix REGISTRY_)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings

# Development defaults only (base64 of 32 bytes); production sets its own through the environment.
DEV_ID_NUMBER_KEY = "ZGV2LWlkLW51bWJlci1lbmNyeXB0aW9uLWtleS0zMmI="
DEV_BLIND_INDEX_KEY = "dev-blind-index-key-change-me"


class RegistrySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRY_")
    development_secrets: ClassVar[dict[str, str]] = {
        **ServiceSettings.development_secrets,
        "id_number_key": DEV_ID_NUMBER_KEY,
        "blind_index_key": DEV_BLIND_INDEX_KEY,
    }

    database_url: str = "sqlite+aiosqlite:///var/registry.db"
    # AES-256-GCM key (base64, 32 bytes) that encrypts stored id numbers.
    id_number_key: SecretStr = SecretStr(DEV_ID_NUMBER_KEY)
    # HMAC key of the blind index used to find a person by id number; known to the registry only.
    blind_index_key: SecretStr = SecretStr(DEV_BLIND_INDEX_KEY)
    # The sweep that publishes the categories the calendar starts or ends, at start-up and at each
    # bureau midnight (services/registry/persons/tasks.py). Off for tests that drive it themselves.
    daily_sweep: bool = True
