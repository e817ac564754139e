"""Settings of the subsidy service (env prefix SUBSIDY_), including each programme's amount in fen."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class SubsidySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SUBSIDY_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/subsidy.db"
    # 一次性吸纳重点群体就业岗位补贴: 6000 CNY per person, the plan's figure.
    hiring_key_groups_amount_fen: int = Field(default=600_000, gt=0)
