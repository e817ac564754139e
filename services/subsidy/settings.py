"""Settings of the subsidy service (env prefix SUBSIDY_). Each programme's amounts are in its own
settings class in `programmes/` (env prefix `SUBSIDY_<PROGRAMME>_`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class SubsidySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SUBSIDY_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/subsidy.db"
    # The services whose watermarks an application waits for: it is judged on everything they had
    # accepted before it was submitted (SPEC 2.3).
    consistency_sources: list[str] = Field(default=["registry", "sharing"])
    # Added to the submission instant before it is compared with another host's watermark: at least
    # the largest clock offset between the hosts (NTP keeps it to milliseconds).
    consistency_clock_margin_s: float = Field(default=0.05, ge=0)
    # How long a submission waits in the request for the projections to catch up; after that it is
    # answered `submitted` and judged in the background.
    submission_wait_s: float = Field(default=3.0, ge=0)
    # How long an application naming something the projections have not seen waits before it is
    # judged with a failed `beneficiary_known` check (SPEC 2.3: 10 minutes).
    facts_wait_s: float = Field(default=600.0, gt=0)
    # How often the background evaluator looks at submitted applications.
    evaluation_interval_s: float = Field(default=0.1, gt=0)
    # Days an approved grant stays on the public notice (公示), SPEC 2.3.
    notice_days: int = Field(default=7, ge=1)
    # How often the application and budget gauges are refreshed from the database.
    metrics_interval_s: float = Field(default=15.0, gt=0)
