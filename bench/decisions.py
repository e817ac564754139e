"""Issue 7's benchmarks: subsidy decisions right after the registry writes, through the gateway.

3. From submission to first decision: for key-group people (registered unemployed, dibao category
   in place), record an employment and twelve months of contributions and apply at once, one case
   after another; the time from sending the application to its first decision (the 201 when it was
   judged in the request, else the background evaluation seen by polling): p50 / p99.
4. Applications evaluated per second: prepared hires, applied for by `connections` callers at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx

from deploy.embedded import SystemConfig

BASE_OFFSET = 8_000_000


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


class Desk:
    def __init__(self, http: httpx.AsyncClient, gateway: str, keys: dict[str, str]) -> None:
        self.http, self.gateway, self.keys = http, gateway, keys

    async def call(self, who: str, method: str, path: str, body: Any = None) -> httpx.Response:
        response = await self.http.request(
            method, self.gateway + path, json=body, headers={"authorization": f"Bearer {self.keys[who]}"}
        )
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response


async def _keys(http: httpx.AsyncClient, gateway: str, admin_key: str) -> dict[str, str]:
    roles = {
        "desk": ("hrss", ["registry:read", "registry:write", "subsidy:apply", "subsidy:read"]),
        "civil": ("civil_affairs", ["sharing:submit"]),
    }
    keys = {}
    for role, (agency, scopes) in roles.items():
        response = await http.post(
            f"{gateway}/gateway/v1/clients",
            headers={"authorization": f"Bearer {admin_key}"},
            json={"name": f"bench {role}", "agency": agency, "scopes": scopes},
        )
        response.raise_for_status()
        keys[role] = str(response.json()["api_key"])
    return keys


async def _key_group_people(desk: Desk, numbers: list[str]) -> list[str]:
    """Registered unemployed dibao family members, their category visible in the registry."""
    semaphore = asyncio.Semaphore(16)

    async def register(number: str) -> str:
        async with semaphore:
            person = await desk.call(
                "desk", "POST", "/registry/v1/persons", {"id_number": number, "name": "测试", "hukou_type": "urban"}
            )
            person_id: str = person.json()["person_id"]
            await desk.call(
                "desk",
                "POST",
                f"/registry/v1/persons/{person_id}/unemployment-registrations",
                {"registered_on": "2024-10-08"},
            )
            return person_id

    people = list(await asyncio.gather(*(register(n) for n in numbers)))
    for start in range(0, len(numbers), 5000):
        chunk = numbers[start : start + 5000]
        await desk.call(
            "civil",
            "POST",
            "/sharing/v1/agencies/civil_affairs/datasets/dibao/records",
            {"records": [{"id_number": n, "since": "2023-05-01"} for n in chunk]},
        )
    deadline = time.monotonic() + 600
    pending = list(people)
    while pending:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(pending)} dibao categories not visible after 600 s")
        person = await desk.call("desk", "GET", f"/registry/v1/persons/{pending[-1]}")
        if "low_income_family" in person.text:
            pending.pop()
        else:
            await asyncio.sleep(0.2)
    return people


async def _hire(desk: Desk, person_id: str, employer: str) -> str:
    employment = await desk.call(
        "desk",
        "POST",
        f"/registry/v1/persons/{person_id}/employments",
        {
            "employer_credit_code": employer,
            "employer_name": "荣昌安陶厂",
            "started_on": "2024-11-01",
            "kind": "employee",
        },
    )
    employment_id: str = employment.json()["employment_id"]
    months = ["2024-11", "2024-12"] + [f"2025-{m:02d}" for m in range(1, 11)]
    await desk.call(
        "desk",
        "POST",
        f"/registry/v1/employments/{employment_id}/contributions",
        {"months": months, "insurances": ["pension", "medical", "unemployment"]},
    )
    return employment_id


async def _apply(desk: Desk, person_id: str, employer: str, employment_id: str) -> tuple[str, bool]:
    """Apply and wait for the first decision; (status, judged in the request)."""
    body = {
        "programme": "hiring_key_groups",
        "beneficiary_person_id": person_id,
        "applicant": {"kind": "employer", "credit_code": employer},
        "employment_id": employment_id,
    }
    application = (await desk.call("desk", "POST", "/subsidy/v1/applications", body)).json()
    inline = application["status"] != "submitted"
    while application["status"] == "submitted":
        await asyncio.sleep(0.005)
        path = f"/subsidy/v1/applications/{application['application_id']}"
        application = (await desk.call("desk", "GET", path)).json()
    return str(application["status"]), inline


async def decisions(
    config: SystemConfig,
    admin_key: str,
    *,
    cases: int,
    applications: int,
    connections: int,
    id_number: Callable[[int], str],
    credit_code: Callable[[int], str],
) -> None:
    gateway = f"http://127.0.0.1:{config.gateway_port}"
    async with httpx.AsyncClient(timeout=60) as http:
        desk = Desk(http, gateway, await _keys(http, gateway, admin_key))
        numbers = [id_number(BASE_OFFSET + i) for i in range(cases + applications)]
        print(f"\n3. Submission to first decision: {cases} key-group hires recorded, then applied for at once")
        started = time.perf_counter()
        people = await _key_group_people(desk, numbers)
        print(f"  ({len(people)} key-group people prepared in {time.perf_counter() - started:.0f} s)")

        latencies: list[float] = []
        statuses: dict[str, int] = {}
        inline = 0
        for i, person_id in enumerate(people[:cases]):
            employer = credit_code(i)
            employment_id = await _hire(desk, person_id, employer)
            sent = time.perf_counter()
            status, judged_inline = await _apply(desk, person_id, employer, employment_id)
            latencies.append((time.perf_counter() - sent) * 1000)
            statuses[status] = statuses.get(status, 0) + 1
            inline += judged_inline
        print(
            f"  p50 {_percentile(latencies, 0.5):.0f} ms   p99 {_percentile(latencies, 0.99):.0f} ms   "
            f"max {max(latencies):.0f} ms   first decisions {statuses}; {inline} of {cases} judged in the request"
        )

        print(f"\n4. Applications evaluated per second: {applications} prepared hires, {connections} callers")
        prepared = [
            (person_id, credit_code(cases + i), await _hire(desk, person_id, credit_code(cases + i)))
            for i, person_id in enumerate(people[cases:])
        ]
        await asyncio.sleep(2)  # let the projections take the hires in: this measures evaluation, not lag
        queue = list(prepared)
        counts: dict[str, int] = {}

        async def caller() -> None:
            while queue:
                person_id, employer, employment_id = queue.pop()
                status, _ = await _apply(desk, person_id, employer, employment_id)
                counts[status] = counts.get(status, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(connections)))
        elapsed = time.perf_counter() - started
        print(f"  {applications / elapsed:.0f} applications/s evaluated ({applications} in {elapsed:.1f} s; {counts})")
