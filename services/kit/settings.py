"""One settings pattern for every service: pydantic-settings with an env prefix per service."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# Development defaults only: `make run` uses them; production sets every secret explicitly.
DEV_INTERNAL_SECRET = "dev-internal-secret-change-me"
DEV_SUBJECT_KEY = "dev-subject-key-change-me"


class ServiceSettings(BaseSettings):
    """Settings every service shares. Subclasses set `env_prefix`, e.g. `REGISTRY_`."""

    model_config = SettingsConfigDict(extra="ignore", hide_input_in_errors=True)

    database_url: str = "sqlite+aiosqlite:///var/service.db"
    database_pool_size: int = 10
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # Only a real Kafka cluster supports the idempotent producer; the embedded broker refuses
    # InitProducerId. Exactly-once effects come from the outbox and inbox either way.
    kafka_enable_idempotence: bool = False
    kafka_topic_partitions: int = 3
    kafka_replication_factor: int = 1
    kafka_session_timeout_ms: int = 6000
    # Consumer groups are `<prefix><service>.<consumer>`; a prefix keeps test runs or a replayed
    # projection apart from the live groups on the same cluster.
    kafka_consumer_group_prefix: str = ""
    # Signs the caller identity the gateway forwards; every service refuses unsigned requests.
    internal_secret: SecretStr = SecretStr(DEV_INTERNAL_SECRET)
    # Key of subject_ref = HMAC-SHA256(subject_key, id_number); the same in every service.
    subject_key: SecretStr = SecretStr(DEV_SUBJECT_KEY)
    relay_batch_size: int = 200
    relay_idle_interval_s: float = 0.5
    consumer_max_attempts: int = 5
    consumer_backoff_s: float = 0.1
    idempotency_in_flight_lease_s: float = 60.0
    log_level: str = "INFO"
    log_json: bool = True
