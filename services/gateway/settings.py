"""Settings of the gateway (env prefix GATEWAY_): upstreams, timeouts, rate limits, bootstrap key."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)

    database_url: str = "sqlite+aiosqlite:///var/gateway.db"
    # SPEC 3 names the variable BOOTSTRAP_ADMIN_KEY; the prefixed name works too, like every other setting.
    bootstrap_admin_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("GATEWAY_BOOTSTRAP_ADMIN_KEY", "BOOTSTRAP_ADMIN_KEY", "bootstrap_admin_key"),
    )

    registry_url: str = "http://127.0.0.1:8001"
    subsidy_url: str = "http://127.0.0.1:8002"
    sharing_url: str = "http://127.0.0.1:8003"

    upstream_connect_timeout_s: float = 2.0
    # Whole exchange with a service, body included; beyond it the caller gets 504.
    upstream_timeout_s: float = 30.0
    # Connections kept open to each service; above it requests queue for a free connection.
    upstream_pool_size: int = 256
    # Idle connections are closed before the services' uvicorn would (its keep-alive is 5 s), so a
    # request is never written on a connection the service is closing at that moment.
    upstream_keepalive_s: float = 4.0
    # Request bodies are buffered before forwarding (dataset pushes are the largest).
    max_request_body_bytes: int = 32 * 1024 * 1024

    # How long an API-key lookup is trusted from memory. Revocation through this gateway evicts at
    # once; another gateway replica honours it within this many seconds.
    key_cache_ttl_s: float = 5.0
    key_cache_max_entries: int = 10_000

    # Per-client token bucket: sustained requests per second and the burst allowed above it. A guard
    # against a runaway caller, not a quota: well above what one agency system needs, and above
    # what this gateway can carry on the benchmark machine, so benchmarks with one key are not cut.
    rate_limit_per_second: float = 5000.0
    rate_limit_burst: int = 5000
