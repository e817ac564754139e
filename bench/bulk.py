"""Issue 11's first figure: a bulk dibao push, from the push to every category visible.

8. `--bulk-records` persons are registered through the gateway (32 at a time, not timed), then their
   civil affairs dibao records are pushed through the gateway in batches of up to 10,000, one batch
   after another; the clock runs from the first push until the registry holds every fact
   (`registry_person_fact`, written in the transaction that recomputes the person's categories and
   publishes the snapshot) and then until the subsidy projection lists every `low_income_family`
   (`subsidy_person_category`). Printed: seconds and facts per second to each, and the push time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import asyncpg
import httpx

from deploy.embedded import SystemConfig
from tests.support import asyncpg_dsn

BATCH = 10_000
REGISTER_CONCURRENCY = 32


async def _count(dsn: str, sql: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


async def bulk(config: SystemConfig, admin_key: str, *, records: int, id_number: Callable[[int], str]) -> None:
    print(f"\n8. Bulk dibao: {records} records pushed through the gateway in batches of up to {BATCH}")
    gateway = f"http://127.0.0.1:{config.gateway_port}"
    first = 3_000_000  # born in 1976, clear of the other sections' id numbers
    numbers = [id_number(first + n) for n in range(records)]
    async with httpx.AsyncClient(timeout=120) as http:

        async def new_key(agency: str, scopes: list[str]) -> dict[str, str]:
            response = await http.post(
                f"{gateway}/gateway/v1/clients",
                headers={"authorization": f"Bearer {admin_key}"},
                json={"name": f"bench bulk {agency}", "agency": agency, "scopes": scopes},
            )
            response.raise_for_status()
            return {"authorization": f"Bearer {response.json()['api_key']}"}

        desk = await new_key("hrss", ["registry:write"])
        civil = await new_key("civil_affairs", ["sharing:submit"])
        semaphore = asyncio.Semaphore(REGISTER_CONCURRENCY)

        async def register(number: str) -> None:
            async with semaphore:
                created = await http.post(
                    f"{gateway}/registry/v1/persons",
                    headers=desk,
                    json={"id_number": number, "name": "测试", "hukou_type": "urban"},
                )
                created.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(register(number) for number in numbers))
        print(f"  {records} persons registered in {time.perf_counter() - started:.1f} s (not timed below)")

        registry = asyncpg_dsn(config.database_urls["registry"])
        subsidy = asyncpg_dsn(config.database_urls["subsidy"])
        facts_before = await _count(registry, "SELECT count(*) FROM registry_person_fact")
        held_before = await _count(
            subsidy, "SELECT count(*) FROM subsidy_person_category WHERE category = 'low_income_family'"
        )
        started = time.perf_counter()
        for offset in range(0, records, BATCH):
            pushed = await http.post(
                f"{gateway}/sharing/v1/agencies/civil_affairs/datasets/dibao/records",
                headers=civil,
                json={"records": [{"id_number": n, "since": "2024-01-01"} for n in numbers[offset : offset + BATCH]]},
            )
            pushed.raise_for_status()
            assert pushed.json()["accepted"] == len(numbers[offset : offset + BATCH]), pushed.text
        pushed_s = time.perf_counter() - started

    async def reached(dsn: str, sql: str, before: int) -> float:
        deadline = time.perf_counter() + 3600
        while await _count(dsn, sql) - before < records:
            if time.perf_counter() > deadline:
                raise RuntimeError("the bulk push was not applied within an hour")
            await asyncio.sleep(0.2)
        return time.perf_counter() - started

    in_registry = await reached(registry, "SELECT count(*) FROM registry_person_fact", facts_before)
    in_subsidy = await reached(
        subsidy, "SELECT count(*) FROM subsidy_person_category WHERE category = 'low_income_family'", held_before
    )
    print(f"  pushed (accepted by sharing) in {pushed_s:.1f} s")
    print(f"  every fact in the registry after {in_registry:.1f} s: {records / in_registry:.0f} facts/s")
    print(
        f"  every category in the subsidy projection after {in_subsidy:.1f} s: {records / in_subsidy:.0f} facts/s"
        "   (target >= 5,000 facts/s for 100,000 records)"
    )
