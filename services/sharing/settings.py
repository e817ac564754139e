"""Settings of the sharing service (env prefix SHARING_)."""

from __future__ import annotations

import base64
import binascii
from typing import ClassVar

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from contracts.fields import Month
from services.kit.identifiers import subject_ref
from services.kit.settings import ServiceSettings

# Development default only (url-safe base64 of 32 bytes): `make run` uses it; production sets
# SHARING_BATCH_KEY, e.g. from `python -c "import os,base64;print(base64.urlsafe_b64encode(os.urandom(32)).decode())"`.
DEV_BATCH_KEY = "ZGV2LXNoYXJpbmctYmF0Y2gta2V5LWNoYW5nZS1tZSE="


def decode_batch_key(value: str) -> bytes:
    """The AES-256 key held in `batch_key`; raises ValueError unless it is base64 of 32 bytes."""
    try:
        key = base64.urlsafe_b64decode(value.encode())
    except (binascii.Error, ValueError):
        raise ValueError("batch_key must be url-safe base64 of 32 random bytes") from None
    if len(key) != 32:
        raise ValueError(f"batch_key must decode to 32 bytes (AES-256), not {len(key)}")
    return key


class SharingSettings(ServiceSettings):
    # The base's hide_input_in_errors also keeps a mistyped key out of the start-up error.
    model_config = SettingsConfigDict(env_prefix="SHARING_")
    development_secrets: ClassVar[dict[str, str]] = {**ServiceSettings.development_secrets, "batch_key": DEV_BATCH_KEY}

    database_url: str = "sqlite+aiosqlite:///var/sharing.db"
    # AES-256-GCM key that seals the raw batches agencies push (they hold raw id numbers).
    batch_key: SecretStr = SecretStr(DEV_BATCH_KEY)
    # A batch's sealed raw body is kept this long, then dropped (the batch, its counts and its
    # records' outcomes stay): it holds raw id numbers, kept only to show what an agency sent.
    raw_batch_retention_s: float = Field(default=180 * 24 * 3600.0, gt=0)
    # A push of more records than this is a bulk load: its facts go in the outbox's bulk lane, paced
    # by the registry's fact consumer, so a single record pushed meanwhile does not wait behind it.
    bulk_push_records: int = Field(default=100, ge=1)
    relay_bulk_pace_groups: list[str] = ["registry.facts"]
    # A batch above either limit is refused whole with 413; agencies split larger pushes.
    max_batch_records: int = 10_000
    max_batch_bytes: int = 16 * 1024 * 1024
    # The audit chain is recomputed at start-up and then this often (its gauges feed AuditChainBroken).
    audit_verify_interval_s: float = Field(default=3600.0, gt=0)
    # How often the statistics task looks for a closed month without its final report.
    statistics_interval_s: float = Field(default=60.0, gt=0)
    # A month's report is final this long after the month's last midnight (bureau time): what was
    # recorded late on its last day has reached the projection by then. Until then it is a draft.
    statistics_close_grace_s: float = Field(default=3600.0, ge=0)
    # The first month reports are made for (the plan's year): earlier ones would report nothing, and
    # each final report is kept and published for good.
    statistics_first_period: Month = "2018-01"
    # Cells below this are suppressed in statistics reports (SPEC 2.4: 5).
    statistics_threshold: int = Field(default=5, ge=1)

    @field_validator("batch_key")
    @classmethod
    def _batch_key_is_aes256(cls, value: SecretStr) -> SecretStr:
        decode_batch_key(value.get_secret_value())
        return value

    @property
    def batch_key_bytes(self) -> bytes:
        return decode_batch_key(self.batch_key.get_secret_value())

    @property
    def subject_key_bytes(self) -> bytes:
        return self.subject_key.get_secret_value().encode()

    def subject_ref(self, id_number: str) -> str:
        return subject_ref(self.subject_key_bytes, id_number)
