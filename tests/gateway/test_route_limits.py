"""Tighter per-client rate limits on single routes (GATEWAY_ROUTE_RATE_LIMITS): identity verification
by default, so it cannot be used to enumerate names, while the client's other routes go on."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from services.gateway.settings import GatewaySettings, RouteRateLimit
from services.kit.serve import settings_of
from tests.gateway.conftest import GatewayFactory
from tests.gateway.helpers import bearer, issue_key

PROBLEM = "application/problem+json"
VERIFY = "/sharing/v1/verifications/identity"
PAIR = {"id_number": "110101199003070011", "name": "Zhang San"}
# One token per 1000 s after the burst: nothing more within a test.
NO_REFILL = 0.001


def verify_limit(burst: int, per_second: float = NO_REFILL) -> list[RouteRateLimit]:
    return [RouteRateLimit(method="POST", path=VERIFY, per_second=per_second, burst=burst)]


@pytest.mark.integration
async def test_verification_is_limited_after_its_burst_while_the_clients_other_routes_pass(
    gateway: GatewayFactory,
) -> None:
    async with gateway(route_rate_limits=verify_limit(burst=3)) as client:
        key = bearer((await issue_key(client, scopes=["sharing:verify", "sharing:read"]))["api_key"])
        within = [(await client.post(VERIFY, headers=key, json=PAIR)).status_code for _ in range(3)]
        limited = await client.post(VERIFY, headers=key, json=PAIR)
        other_route = await client.get("/sharing/v1/datasets", headers=key)
        # Only POST on that exact path is the limited route.
        other_method = await client.get(VERIFY, headers=key)
    assert within == [200, 200, 200]
    assert limited.status_code == 429, limited.text
    assert limited.headers["content-type"] == PROBLEM
    assert int(limited.headers["retry-after"]) >= 1
    problem = limited.json()
    assert problem["status"] == 429
    assert problem["type"].endswith(":rate-limited")
    assert f"POST {VERIFY} has a tighter per-client limit" in problem["detail"]
    # The gateway's own answer: the service never received the request.
    assert "caller" not in problem
    assert other_route.status_code == 200
    assert other_method.status_code == 200


@pytest.mark.integration
async def test_another_client_has_its_own_verification_bucket(gateway: GatewayFactory) -> None:
    async with gateway(route_rate_limits=verify_limit(burst=1)) as client:
        first = bearer((await issue_key(client, scopes=["sharing:verify"]))["api_key"])
        second = bearer((await issue_key(client, scopes=["sharing:verify"]))["api_key"])
        statuses = [(await client.post(VERIFY, headers=first, json=PAIR)).status_code for _ in range(2)]
        unaffected = await client.post(VERIFY, headers=second, json=PAIR)
    assert statuses == [200, 429]
    assert unaffected.status_code == 200


@pytest.mark.integration
async def test_verification_also_counts_against_the_general_rate_but_a_refusal_costs_nothing(
    gateway: GatewayFactory,
) -> None:
    async with gateway(
        rate_limit_per_second=NO_REFILL, rate_limit_burst=5, route_rate_limits=verify_limit(2)
    ) as client:
        key = bearer((await issue_key(client, scopes=["sharing:verify", "sharing:read"]))["api_key"])
        verified = [(await client.post(VERIFY, headers=key, json=PAIR)).status_code for _ in range(2)]
        refused = [(await client.post(VERIFY, headers=key, json=PAIR)).status_code for _ in range(10)]
        # Two of the five general tokens went to the verifications, none to the refusals.
        others = [(await client.get("/sharing/v1/datasets", headers=key)).status_code for _ in range(4)]
        over_general = await client.post(VERIFY, headers=key, json=PAIR)
    assert verified == [200, 200]
    assert refused == [429] * 10
    assert others == [200, 200, 200, 429]
    # Once the general rate is used up, that is what the client is told, on any route.
    assert over_general.status_code == 429
    assert "tighter" not in over_general.json()["detail"]


@pytest.mark.integration
async def test_the_limit_is_read_from_the_environment(gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    limits = [{"method": "post", "path": VERIFY, "per_second": NO_REFILL, "burst": 2}]
    monkeypatch.setenv("GATEWAY_ROUTE_RATE_LIMITS", json.dumps(limits))
    async with gateway() as client:
        key = bearer((await issue_key(client, scopes=["sharing:verify"]))["api_key"])
        statuses = [(await client.post(VERIFY, headers=key, json=PAIR)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_verification_is_limited_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATEWAY_ROUTE_RATE_LIMITS", raising=False)
    assert GatewaySettings().route_rate_limits == [RouteRateLimit(method="POST", path=VERIFY, per_second=1.0, burst=10)]


def test_an_empty_list_from_the_environment_lifts_every_route_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_ROUTE_RATE_LIMITS", "[]")
    assert GatewaySettings().route_rate_limits == []


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ('[{"method": "POST", "path": "/sharing/v1/verifications/identity"', "is not valid JSON"),
        ('{"method": "POST", "path": "/x/v1/y", "per_second": 1, "burst": 1}', "must be a JSON list"),
        ('[{"method": "POST", "path": "/x/v1/y", "per_second": 0, "burst": 1}]', "greater than 0"),
        ('[{"method": "POST", "path": "/x/v1/y", "per_second": 1, "burst": 0}]', "greater than or equal to 1"),
        ('[{"method": "POST", "path": "/x/v1/y"}]', "Field required"),
        ('[{"method": "POST", "path": "/x/v1/y", "per_second": 1, "burst": 1, "brust": 5}]', "Extra inputs"),
        ('[{"method": "FETCH", "path": "/x/v1/y", "per_second": 1, "burst": 1}]', "method must be one of"),
        ('[{"method": "GET", "path": "/x/v1/{id}", "per_second": 1, "burst": 1}]', "exact request path"),
        ('[{"method": "GET", "path": "x/v1/y", "per_second": 1, "burst": 1}]', "exact request path"),
        (
            '[{"method": "GET", "path": "/x/v1/y", "per_second": 1, "burst": 1},'
            ' {"method": "get", "path": "/x/v1/y", "per_second": 2, "burst": 2}]',
            "names a route more than once: GET /x/v1/y",
        ),
    ],
)
def test_a_malformed_route_limit_is_refused_at_start_up(
    monkeypatch: pytest.MonkeyPatch, value: str, reason: str
) -> None:
    monkeypatch.setenv("GATEWAY_ROUTE_RATE_LIMITS", value)
    # What `python -m services.kit.serve gateway` does first.
    with pytest.raises(ValidationError) as refused:
        settings_of("gateway")
    message = str(refused.value)
    assert "route_rate_limits" in message
    assert reason in message
