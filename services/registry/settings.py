"""Settings of the registry service (env prefix REGISTRY_)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from contracts.monitoring import WarningLevel
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
    # Yearly targets of the indicators, by year (`"2026"`) or `"default"`: the plan's figures. The
    # rate's target is a ceiling (a fraction: 0.034 is 3.4%).
    indicator_targets: dict[str, dict[str, float]] = {
        "default": {
            "new_urban_jobs": 12_000,
            "registered_urban_unemployment_rate": 0.034,
            "new_entrepreneurs": 6_100,
            "trained": 3_000,
        }
    }
    # Separations at one employer within `warning_window_days` that raise each warning tier (SPEC 2.5).
    warning_tiers: dict[WarningLevel, int] = {
        WarningLevel.blue: 20,
        WarningLevel.yellow: 50,
        WarningLevel.orange: 100,
        WarningLevel.red: 200,
    }
    warning_window_days: int = Field(default=30, ge=1)
    # How often the indicator gauges are counted (services/registry/indicators/metrics.py).
    indicators_interval_s: float = Field(default=60.0, gt=0)
    # The towns the gauges are labelled with (a bounded set); a person's other town counts as `other`.
    towns: list[str] = [
        "昌元街道",
        "昌州街道",
        "广顺街道",
        "双河街道",
        "安富街道",
        "峰高街道",
        "直升镇",
        "路孔镇",
        "清江镇",
        "仁义镇",
        "河包镇",
        "古昌镇",
        "吴家镇",
        "观胜镇",
        "铜鼓镇",
        "清流镇",
        "盘龙镇",
        "远觉镇",
        "清升镇",
        "荣隆镇",
        "龙集镇",
    ]
