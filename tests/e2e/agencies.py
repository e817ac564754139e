"""The agency systems of the end-to-end tests: API clients of the gateway, and the facts they
record to make a person eligible."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx

from tests.e2e.conftest import RunningSystem
from tests.registry.people import credit_code, id_number
from tests.support import eventually


class Agency:
    """One API client of the gateway."""

    def __init__(self, http: httpx.AsyncClient, system: RunningSystem, key: str) -> None:
        self.http, self.base, self.key = http, system.gateway, key

    async def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.key}", **kwargs.pop("headers", {})}
        return await self.http.request(method, self.base + path, json=body, headers=headers, **kwargs)


async def client(http: httpx.AsyncClient, system: RunningSystem, agency: str, *scopes: str) -> Agency:
    admin = Agency(http, system, system.admin_key)
    response = await admin.call(
        "POST", "/gateway/v1/clients", {"name": f"{agency} e2e", "agency": agency, "scopes": list(scopes)}
    )
    assert response.status_code == 201, response.text
    return Agency(http, system, response.json()["api_key"])


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys() and body["status"] == status
    return body


async def hired_for_a_year(desk: Agency, civil: Agency) -> tuple[str, str, str]:
    """A registered unemployed dibao family member, hired over a year ago, insured 12 months."""
    number = id_number(date(1992, 7, 1), female=True)
    person = await desk.call(
        "POST", "/registry/v1/persons", {"id_number": number, "name": "陈静", "hukou_type": "urban"}
    )
    assert person.status_code == 201, person.text
    person_id = person.json()["person_id"]
    registered = await desk.call(
        "POST", f"/registry/v1/persons/{person_id}/unemployment-registrations", {"registered_on": "2024-10-08"}
    )
    assert registered.status_code == 201, registered.text
    pushed = await civil.call(
        "POST",
        "/sharing/v1/agencies/civil_affairs/datasets/dibao/records",
        {"records": [{"id_number": number, "since": "2023-05-01"}]},
    )
    assert pushed.status_code == 201 and pushed.json()["accepted"] == 1, pushed.text
    employer = credit_code("MA61B8C9D")
    employment = await desk.call(
        "POST",
        f"/registry/v1/persons/{person_id}/employments",
        {
            "employer_credit_code": employer,
            "employer_name": "荣昌陶器厂",
            "started_on": "2024-11-01",
            "kind": "employee",
        },
    )
    assert employment.status_code == 201, employment.text
    employment_id = employment.json()["employment_id"]
    months = [f"2024-{m:02d}" for m in (11, 12)] + [f"2025-{m:02d}" for m in range(1, 11)]
    paid = await desk.call(
        "POST",
        f"/registry/v1/employments/{employment_id}/contributions",
        {"months": months, "insurances": ["pension", "medical", "unemployment"]},
    )
    assert paid.status_code == 200, paid.text

    async def projected() -> bool:
        view = await desk.call("GET", f"/subsidy/v1/beneficiaries/{person_id}")
        if view.status_code != 200:
            return False
        body = view.json()
        categories = {c["category"] for c in body["difficulty_categories"]}
        return "low_income_family" in categories and [e["contribution_months"] for e in body["employments"]] == [12]

    await eventually(projected, within=30)
    return person_id, employment_id, employer
