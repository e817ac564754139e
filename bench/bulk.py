"""Issue 11's first figure: a bulk dibao push, from the push to every category visible.

8. `--bulk-records` persons are registered through the gateway (32 at a time, not timed; above
   5,000 they are written with COPY straight into the registry's table instead, with the registry's
   own encryption, blind index and pseudonym code, as registering 100,000 here would take a quarter
   of an hour), then their civil affairs dibao records are pushed through the gateway in batches of
   up to 10,000, one batch after another; the clock runs from the first push until the registry holds
   every fact (`registry_person_fact`, written in the transaction that recomputes the person's
   categories and publishes the snapshot) and then until the subsidy projection lists every
   `low_income_family` (`subsidy_person_category`). Printed: seconds and facts per second to each,
   the push time, the CPU seconds over the run of each service, tansu and PostgreSQL (each per fact,
   and how busy they kept the machine's cores) and each service's largest resident memory (read
   from /proc every half second).
   Meanwhile, from the first push until the registry holds every fact, one more person's dibao
   record is pushed on its own every `PROBE_EVERY_S` (the next only once the last is in): the
   seconds from its push until the registry holds its fact are the single-fact latencies (p50, p99,
   max), what a record pushed during a bulk load waits.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable
from datetime import date

import asyncpg
import httpx

from bench.loadgen import _percentile
from bench.procs import cpu_s, rss_mb
from deploy.embedded import SystemConfig
from services.kit.db import utcnow
from services.kit.identifiers import birth_date_of, gender_of, mask_id_number, subject_ref
from services.kit.settings import DEV_SUBJECT_KEY
from services.registry.persons.protection import IdNumberProtector
from services.registry.settings import DEV_BLIND_INDEX_KEY, DEV_ID_NUMBER_KEY
from tests.support import asyncpg_dsn

BATCH = 10_000
REGISTER_CONCURRENCY = 32
API_REGISTRATIONS = 5_000
PROBES = 500  # persons kept for the single-fact probes
PROBE_EVERY_S = 0.25
NO_CATEGORIES = "|"  # persons/categories.py `fingerprint` of a person with no category
PERSON_COLUMNS = [
    "person_id",
    "id_number_ciphertext",
    "id_number_index",
    "id_number_masked",
    "subject_ref",
    "name",
    "gender",
    "birth_date",
    "hukou_type",
    "version",
    "published_categories",
    "categories_due_on",
    "created_at",
    "updated_at",
]


async def _copy_persons(dsn: str, numbers: list[str]) -> None:
    """The persons as registration would write them (no event published: the registry's snapshot
    of each goes out with its first category)."""
    protector = IdNumberProtector(DEV_ID_NUMBER_KEY, DEV_BLIND_INDEX_KEY)  # the bench's services' keys
    now = utcnow()
    rows = [
        (
            uuid.uuid4(),
            protector.encrypt(number),
            protector.blind_index(number),
            mask_id_number(number),
            subject_ref(DEV_SUBJECT_KEY.encode(), number),
            "测试",
            gender_of(number),
            birth_date_of(number),
            "urban",
            1,
            NO_CATEGORIES,
            date.max,  # as registration writes it: nothing the calendar alone would change
            now,
            now,
        )
        for number in numbers
    ]
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table("registry_person", records=rows, columns=PERSON_COLUMNS)
        await conn.execute("ANALYZE registry_person")
    finally:
        await conn.close()


async def _count(dsn: str, sql: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


async def bulk(
    config: SystemConfig,
    admin_key: str,
    *,
    records: int,
    id_number: Callable[[int], str],
    pids: dict[str, int],
    cpu_of: Callable[[], dict[str, float]],
) -> None:
    """`pids`: the services, whose resident memory is followed; `cpu_of`: CPU seconds so far of every
    process that works for the load (the services, tansu and PostgreSQL)."""
    print(f"\n8. Bulk dibao: {records} records pushed through the gateway in batches of up to {BATCH}")
    gateway = f"http://127.0.0.1:{config.gateway_port}"
    first = 3_000_000  # born in 1976, clear of the other sections' id numbers
    numbers = [id_number(first + n) for n in range(records)]
    probe_numbers = [id_number(first + records + n) for n in range(PROBES)]
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

        registry = asyncpg_dsn(config.database_urls["registry"])
        started = time.perf_counter()
        if records <= API_REGISTRATIONS:
            registry_cpu = cpu_s(pids["registry"])
            await asyncio.gather(*(register(number) for number in [*numbers, *probe_numbers]))
            per_registration = (cpu_s(pids["registry"]) - registry_cpu) / (records + PROBES) * 1000
            print(
                f"  {records + PROBES} persons registered in {time.perf_counter() - started:.1f} s (not timed below; "
                f"registry CPU {per_registration:.2f} ms per registration)"
            )
        else:
            await _copy_persons(registry, [*numbers, *probe_numbers])
            print(
                f"  {records + PROBES} persons written with COPY in {time.perf_counter() - started:.1f} s "
                "(not timed below)"
            )

        subsidy = asyncpg_dsn(config.database_urls["subsidy"])
        facts_before = await _count(registry, "SELECT count(*) FROM registry_person_fact")
        held_before = await _count(
            subsidy, "SELECT count(*) FROM subsidy_person_category WHERE category = 'low_income_family'"
        )
        cpu_before = cpu_of()
        wall_before = time.perf_counter()
        peak = {name: rss_mb(pid) for name, pid in pids.items()}
        sampling = True

        async def sample() -> None:
            while sampling:
                for name, pid in pids.items():
                    peak[name] = max(peak[name], rss_mb(pid))
                await asyncio.sleep(0.5)

        sampler = asyncio.create_task(sample())
        probing = True
        pushing = True
        # Each probe: (the push's answer, from the answer to the fact, sent while the bulk was being pushed).
        probe_parts: list[tuple[float, float, bool]] = []
        probes_sent: list[str] = []

        async def probe() -> None:
            """One record pushed on its own at a time, timed until the registry holds its fact."""
            conn = await asyncpg.connect(registry)
            try:
                async with httpx.AsyncClient(timeout=120) as alone:
                    for number in probe_numbers:
                        if not probing:
                            return
                        ref = subject_ref(DEV_SUBJECT_KEY.encode(), number)
                        sent = time.perf_counter()
                        during_pushes = pushing
                        pushed = await alone.post(
                            f"{gateway}/sharing/v1/agencies/civil_affairs/datasets/dibao/records",
                            headers=civil,
                            json={"records": [{"id_number": number, "since": "2024-01-01"}]},
                        )
                        pushed.raise_for_status()
                        answered = time.perf_counter()
                        probes_sent.append(number)
                        while not await conn.fetchval(  # noqa: ASYNC110 (another process writes it)
                            "SELECT EXISTS (SELECT 1 FROM registry_person_fact WHERE subject_ref = $1)", ref
                        ):
                            await asyncio.sleep(0.01)
                        probe_parts.append((answered - sent, time.perf_counter() - answered, during_pushes))
                        await asyncio.sleep(PROBE_EVERY_S)
            finally:
                await conn.close()

        prober = asyncio.create_task(probe())
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
        pushing = False

    async def reached(dsn: str, sql: str, before: int) -> float:
        """Seconds from the first push until the count holds every record. Counted on one connection,
        seldom while much is left and every 0.1 s near the end: each count reads the table whole,
        and five a second, each on a new connection, had been 6 % of PostgreSQL's time in statements
        in a 40,000-record run (pg_stat_statements), more the more facts: the bench's load, not the
        system's."""
        deadline = time.perf_counter() + 3600
        conn = await asyncpg.connect(dsn)
        try:
            while (done := int(await conn.fetchval(sql)) - before - len(probes_sent)) < records:
                if time.perf_counter() > deadline:
                    raise RuntimeError("the bulk push was not applied within an hour")
                rate = done / (time.perf_counter() - started)
                left_s = (records - done) / rate if rate > 0 else 1.0
                await asyncio.sleep(min(2.0, max(0.1, left_s / 4)))
        finally:
            await conn.close()
        return time.perf_counter() - started

    in_registry = await reached(registry, "SELECT count(*) FROM registry_person_fact", facts_before)
    probing = False
    await prober
    in_subsidy = await reached(
        subsidy, "SELECT count(*) FROM subsidy_person_category WHERE category = 'low_income_family'", held_before
    )
    sampling = False
    await sampler
    probe_latencies = sorted(answer + after for answer, after, _ in probe_parts)
    wall = time.perf_counter() - wall_before
    cpu = {name: seconds - cpu_before[name] for name, seconds in cpu_of().items()}
    busy = sum(cpu.values()) / wall / (os.cpu_count() or 1) * 100
    print(f"  pushed (accepted by sharing) in {pushed_s:.1f} s")
    print(f"  every fact in the registry after {in_registry:.1f} s: {records / in_registry:.0f} facts/s")
    print(
        f"  every category in the subsidy projection after {in_subsidy:.1f} s: {records / in_subsidy:.0f} facts/s"
        "   (target >= 5,000 facts/s for 100,000 records)"
    )
    if probe_latencies:
        p50, p99 = _percentile(probe_latencies, 0.5), _percentile(probe_latencies, 0.99)
        print(
            f"  single records pushed meanwhile, push to fact in the registry: {len(probe_latencies)} records, "
            f"p50 {p50:.2f} s, p99 {p99:.2f} s, max {probe_latencies[-1]:.2f} s   (target p99 <= 1 s)"
        )
        _report_probe_parts(probe_parts)
    print(
        "  CPU over the run: "
        + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in cpu.items())
        + f" ({busy:.0f} % of the machine's cores); per fact: "
        + ", ".join(f"{name} {seconds / records * 1000:.2f} ms" for name, seconds in cpu.items())
        + f"; all {sum(cpu.values()) / records * 1000:.2f} ms"
    )
    print(
        "  largest resident memory: "
        + ", ".join(f"{name} {mb:.0f} MB" for name, mb in peak.items())
        + "   (target <= 200 MB each)"
    )


def _report_probe_parts(parts: list[tuple[float, float, bool]]) -> None:
    """Where a single record's wait goes: sharing answering its push, then the way from the answer to
    the registry's fact; and the probes sent while the bulk batches were being pushed against those
    sent after, while the bulk lane was being applied."""

    def spread(values: list[float]) -> str:
        values = sorted(values)
        if not values:
            return "none"
        return f"p50 {_percentile(values, 0.5):.2f} s, p99 {_percentile(values, 0.99):.2f} s"

    during = [answer + after for answer, after, pushing in parts if pushing]
    later = [answer + after for answer, after, pushing in parts if not pushing]
    print(
        f"    the push answered: {spread([answer for answer, _, _ in parts])}; "
        f"from the answer to the fact: {spread([after for _, after, _ in parts])}"
    )
    print(
        f"    sent while the bulk batches were pushed: {len(during)}, {spread(during)}; "
        f"sent after: {len(later)}, {spread(later)}"
    )
