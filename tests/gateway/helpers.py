"""What the gateway tests share: the bootstrap admin key and issuing keys through the API."""

from __future__ import annotations

from typing import Any

import httpx

ADMIN_KEY = "test-bootstrap-admin-key-0123456789abcdef"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


ADMIN = bearer(ADMIN_KEY)


async def issue_key(
    client: httpx.AsyncClient, *, scopes: list[str], agency: str = "hrss", name: str = "test system"
) -> dict[str, Any]:
    response = await client.post(
        "/gateway/v1/clients", json={"name": name, "agency": agency, "scopes": scopes}, headers=ADMIN
    )
    assert response.status_code == 201, response.text
    issued: dict[str, Any] = response.json()
    return issued
