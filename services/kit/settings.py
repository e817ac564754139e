"""One settings pattern for every service: pydantic-settings with an env prefix per service."""

from __future__ import annotations

from typing import ClassVar, Literal, Self

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Development defaults only: `make run` uses them; production sets every secret explicitly.
DEV_INTERNAL_SECRET = "dev-internal-secret-change-me"
DEV_SUBJECT_KEY = "dev-subject-key-change-me"


class ServiceSettings(BaseSettings):
    """Settings every service shares. Subclasses set `env_prefix`, e.g. `REGISTRY_`."""

    model_config = SettingsConfigDict(extra="ignore", hide_input_in_errors=True, populate_by_name=True)

    # The development secrets below are public (they are in this file): a service refuses to start
    # with any of them unless development mode is on. `make run` and the tests turn it on; one
    # variable for every service, DEVELOPMENT_MODE=1.
    development_mode: bool = Field(default=False, validation_alias=AliasChoices("DEVELOPMENT_MODE", "development_mode"))
    # Development mode only: the service's clock runs this many days ahead (or behind), to rehearse
    # what the calendar changes, e.g. the registry's daily sweep (REGISTRY_CLOCK_OFFSET_DAYS=10).
    clock_offset_days: int = 0
    # Secret settings and their development defaults; subclasses extend it with their own.
    development_secrets: ClassVar[dict[str, str]] = {
        "internal_secret": DEV_INTERNAL_SECRET,
        "subject_key": DEV_SUBJECT_KEY,
    }

    database_url: str = "sqlite+aiosqlite:///var/service.db"
    # The most connections a process opens to its database (as it needs them) and keeps open.
    database_pool_size: int = Field(default=20, ge=1)
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # Only a real Kafka cluster supports the idempotent producer; the embedded broker refuses
    # InitProducerId. Exactly-once effects come from the outbox and inbox either way.
    kafka_enable_idempotence: bool = False
    kafka_topic_partitions: int = Field(default=3, ge=1)
    kafka_replication_factor: int = Field(default=1, ge=1)
    kafka_session_timeout_ms: int = 6000
    # How long the broker may hold a consumer's fetch when no record is there. tansu answers only when
    # this runs out, even when a record arrives meanwhile (measured: p50 56 ms, max 471 ms from produce
    # to consume at 500, against p50 12 ms, max 51 ms at 50), so the default is short; a real Kafka
    # cluster answers as soon as a record arrives, and 500 there costs no latency and spares ten idle
    # fetches a second per consumer.
    kafka_fetch_max_wait_ms: int = Field(default=50, ge=1, le=30_000)
    # Consumer groups are `<prefix><service>.<consumer>`; a prefix keeps test runs or a replayed
    # projection apart from the live groups on the same cluster.
    kafka_consumer_group_prefix: str = ""
    # Signs the caller identity the gateway forwards; every service refuses unsigned requests.
    internal_secret: SecretStr = SecretStr(DEV_INTERNAL_SECRET)
    # Key of subject_ref = HMAC-SHA256(subject_key, id_number); the same in every service.
    subject_key: SecretStr = SecretStr(DEV_SUBJECT_KEY)
    relay_batch_size: int = 200
    relay_idle_interval_s: float = 0.5
    # How often the relay publishes a watermark on outbox.watermark.v1 (0: never).
    relay_watermark_interval_s: float = Field(default=0.1, ge=0)
    # The outbox's bulk lane (issue 11, services/kit/pacing.py) is published only while these
    # consumer groups (named without the prefix, e.g. `registry.facts`) are fewer than
    # relay_bulk_max_lag events behind on this service's topics, or than what the group applies in
    # relay_bulk_max_wait_s when that is more (0: relay_bulk_max_lag alone), measured every
    # relay_bulk_pace_interval_s. No group: the bulk lane goes, after the interactive one, unpaced.
    relay_bulk_pace_groups: list[str] = []
    relay_bulk_max_lag: int = Field(default=100, ge=1)
    relay_bulk_max_wait_s: float = Field(default=0.3, ge=0)
    relay_bulk_pace_interval_s: float = Field(default=0.1, gt=0)
    # Records a consumer takes per poll; a partition's share of them is applied in one transaction.
    consumer_batch_size: int = Field(default=1000, ge=1)
    consumer_max_attempts: int = 5
    consumer_backoff_s: float = 0.1
    idempotency_in_flight_lease_s: float = 60.0
    # Sent outbox rows are kept this long, to be sent again to a broker that lost its state.
    outbox_retention_s: float = 7 * 24 * 3600.0
    # Processed inbox entries are kept this long once their group has committed past them: a
    # redelivery within it is recognised; after it, only a dead-letter replay could bring one back.
    inbox_retention_s: float = Field(default=7 * 24 * 3600.0, gt=0)
    # How often the broker's cluster id is checked (a new id means it came back empty).
    broker_watch_interval_s: float = 1.0
    # /readyz reports a consumer with no poll round, or no partition, for longer than this.
    consumer_stall_after_s: float = 30.0
    log_level: str = "INFO"
    log_json: bool = True
    # OpenTelemetry spans (tracing.py): exported nowhere by default; `console` prints each as JSON.
    traces_exporter: Literal["none", "console"] = "none"
    # Bounded resources, enforced by the server `python -m services.kit.serve <service>` starts
    # (services/kit/server.py). A connection must send its request line and headers within
    # header_timeout_s of opening (or of the request's first byte) and in at most max_header_bytes;
    # its body within body_timeout_s of the headers; an idle keep-alive connection is closed after
    # keep_alive_timeout_s. The services keep 5 s: the gateway closes its idle upstream connections
    # at 4 s, before a service would.
    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0
    keep_alive_timeout_s: int = 5
    max_header_bytes: int = 64 * 1024
    # Open connections beyond either cap are closed as soon as they are accepted. Behind a proxy all
    # connections come from its address: raise the per-address cap to its pool size there. The
    # gateway keeps up to 256 connections to each service (GATEWAY_UPSTREAM_POOL_SIZE).
    max_connections: int = 4096
    max_connections_per_address: int = 512
    # The largest request body read, refused with 413 as it arrives, before any handler or the
    # idempotency middleware buffers it: the largest any route accepts (a dataset push, 16 MiB).
    max_request_body_bytes: int = 16 * 1024 * 1024

    @model_validator(mode="after")
    def _no_development_secret_in_production(self) -> Self:
        prefix = self.model_config.get("env_prefix", "")
        empty = [
            f"{prefix}{name}".upper()
            for name in self.development_secrets
            if (value := getattr(self, name)) is not None and not _secret(value).strip()
        ]
        if empty:  # a secret left blank (an empty Kubernetes Secret key, say) is no secret at all
            raise ValueError(f"{', '.join(empty)} is empty; set a real secret (see deploy/)")
        if self.development_mode:
            return self
        if self.clock_offset_days:
            raise ValueError("CLOCK_OFFSET_DAYS moves the bureau's clock; it is refused outside DEVELOPMENT_MODE=1")
        defaults = [
            f"{prefix}{name}".upper()
            for name, dev_value in self.development_secrets.items()
            if (value := getattr(self, name)) is not None and _secret(value) == dev_value
        ]
        if defaults:
            raise ValueError(
                f"{', '.join(defaults)} still hold the public development default; set real secrets through the "
                "environment (see deploy/), or set DEVELOPMENT_MODE=1 to run with the development defaults"
            )
        return self


def _secret(value: object) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)
