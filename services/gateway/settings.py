"""Settings of the gateway (env prefix GATEWAY_): upstreams, timeouts, rate limits, bootstrap key."""

from __future__ import annotations

import json
from typing import Annotated, ClassVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from services.kit.settings import DEV_INTERNAL_SECRET, ServiceSettings

_HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_ROUTE_RATE_LIMITS_EXAMPLE = (
    '[{"method": "POST", "path": "/sharing/v1/verifications/identity", "per_second": 1, "burst": 10}]'
)


class RouteRateLimit(BaseModel):
    """A tighter per-client token bucket on one route, matched on the method and the exact path."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: str
    path: str
    per_second: float = Field(gt=0)
    burst: int = Field(ge=1)

    @field_validator("method")
    @classmethod
    def _known_method(cls, method: str) -> str:
        method = method.upper()
        if method not in _HTTP_METHODS:
            raise ValueError(f"method must be one of {', '.join(sorted(_HTTP_METHODS))}")
        return method

    @field_validator("path")
    @classmethod
    def _exact_path(cls, path: str) -> str:
        # Matched against the request's exact path, so a template or a query would never match and
        # the route would silently go unlimited; refused instead.
        if not path.startswith("/") or any(c in path for c in "{}?#*"):
            raise ValueError(f"path must be an exact request path such as /sharing/v1/verifications/identity: {path!r}")
        return path


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)

    # The gateway keeps no subject key: it never names a person on Kafka.
    development_secrets: ClassVar[dict[str, str]] = {"internal_secret": DEV_INTERNAL_SECRET}

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
    # Request bodies are read whole before the hop (the signature covers their digest), hashed as
    # they arrive and kept in memory up to request_spool_memory_bytes, on a temporary file beyond.
    # Each route's limit is enforced as the bytes arrive: the dataset push (the sharing service's
    # documented 16 MiB) has its own, every other route the small one.
    max_request_body_bytes: int = 1024 * 1024
    dataset_push_max_body_bytes: int = 16 * 1024 * 1024
    request_spool_memory_bytes: int = 1024 * 1024
    # Dataset pushes in flight at once, per gateway process; beyond it 503 with Retry-After. The
    # sharing service holds each push whole while it parses it, so this bounds its memory too.
    dataset_push_max_concurrent: int = 8

    # How long an API-key lookup is trusted from memory. Revocation through this gateway evicts at
    # once; another gateway replica honours it within this many seconds. Keys that matched no
    # client are remembered as long, in a cache of their own (key_cache_max_misses), so a flood of
    # bad keys can neither cost a database look-up each nor push good keys out of the cache.
    key_cache_ttl_s: float = 5.0
    key_cache_max_entries: int = 10_000
    key_cache_max_misses: int = 10_000

    # Per-client token bucket: sustained requests per second and the burst allowed above it. Sized
    # to protect the services: on the 2-core reference machine the registry carries about 340
    # registrations a second in all, so one client may take up to 200/s (400 at once) and a runaway
    # caller cannot take the whole registry from everyone else. Benchmarks set their own figure.
    rate_limit_per_second: float = 200.0
    rate_limit_burst: int = 400
    # Requests with no key or a key that matched no client, per source address: each may cost a
    # database look-up, and nothing legitimate needs many. At most this many addresses are tracked;
    # beyond it, refilled buckets and then the longest tracked are forgotten.
    unauthenticated_rate_limit_per_second: float = 10.0
    unauthenticated_rate_limit_burst: int = 20
    rate_limit_max_tracked: int = 100_000
    # Tighter per-client buckets on single routes, taken on top of the general one (a request there
    # needs a token from both, so an entry can only tighten). Identity verification answers whether
    # an id number and a name belong together, so at the general 200/s a client could try every
    # likely name for an id number in seconds. A counter clerk checks one person in a few minutes,
    # so even an agency system behind a busy office of dozens of counters needs well under one
    # check a second, with a few at once; at 1/s, bursts of 10, a sweep across thousands of
    # candidates takes hours and stands out in the audit log. A JSON list in the environment,
    # e.g. GATEWAY_ROUTE_RATE_LIMITS='[{"method": "POST", "path": "/x/v1/y", "per_second": 0.5,
    # "burst": 5}]'; it replaces this default, so keep the verification entry in it.
    route_rate_limits: Annotated[list[RouteRateLimit], NoDecode] = Field(
        default=[RouteRateLimit(method="POST", path="/sharing/v1/verifications/identity", per_second=1.0, burst=10)]
    )

    # A client system needs a few dozen connections; one address holding hundreds is hoarding them.
    max_connections_per_address: int = 256

    @field_validator("route_rate_limits", mode="before")
    @classmethod
    def _route_rate_limits_from_json(cls, value: object) -> object:
        # Decoded here rather than by pydantic-settings, whose error for bad JSON names neither the
        # variable nor the expected shape.
        if not isinstance(value, str):
            return value
        try:
            decoded: object = json.loads(value)
        except json.JSONDecodeError as error:
            raise ValueError(
                f"GATEWAY_ROUTE_RATE_LIMITS is not valid JSON ({error}); expected a list such as "
                f"{_ROUTE_RATE_LIMITS_EXAMPLE}"
            ) from None
        if not isinstance(decoded, list):
            raise ValueError(f"GATEWAY_ROUTE_RATE_LIMITS must be a JSON list such as {_ROUTE_RATE_LIMITS_EXAMPLE}")
        return decoded

    @field_validator("route_rate_limits")
    @classmethod
    def _one_limit_per_route(cls, limits: list[RouteRateLimit]) -> list[RouteRateLimit]:
        routes = [(limit.method, limit.path) for limit in limits]
        repeated = sorted({f"{method} {path}" for method, path in routes if routes.count((method, path)) > 1})
        if repeated:
            raise ValueError(f"GATEWAY_ROUTE_RATE_LIMITS names a route more than once: {', '.join(repeated)}")
        return limits
