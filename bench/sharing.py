"""The sharing service's benchmarks, through the gateway, on data seeded straight into its database.

5. Outward queries of 10,000 id numbers (9,000 the projection knows, 1,000 it does not) under a
   civil affairs agreement on `hrss/employment_status`, one after another: p50 / p99 / max.
6. Recomputing the audit chain (`GET /sharing/v1/audit/verify`) over 100,000 entries and more:
   seconds per call and entries per second.

Neither is seeded the realistic way. The projection is filled by the registry's events, but the
registry takes persons at about 100/s here, so 10,000 persons (half employed, a quarter registered
unemployed, some with difficulty categories) are written with SQL into the sharing service's own
tables, keyed by the subject_ref the running service computes. The audit entries would come from
100,000 exchanges; they are written with SQL too, chained after the current head with the
service's own hash (audit/chain.py) and the head moved to the last one in the same transaction,
which holds the head's lock as an append does, so an exchange meanwhile chains after them.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from bench.decisions import _percentile
from deploy.embedded import SystemConfig
from services.kit.clock import BureauClock
from services.kit.identifiers import subject_ref
from services.sharing.audit.chain import CHAINED_FIELDS, chain_instant, entry_hash, subjects_digest
from services.sharing.datasets.catalog import CATALOG
from services.sharing.settings import SharingSettings
from services.sharing.verification.service import IDENTITY_DATASET
from services.sharing.verification.service import PURPOSE as VERIFICATION_PURPOSE
from tests.support import asyncpg_dsn

BASE_OFFSET = 7_000_000
DATASET = "hrss/employment_status"
FIELDS = ["status", "registered_unemployed_since", "employed_since", "employer_name", "difficulty_categories"]
PURPOSE = "低保复核 dibao review"
TOWNS = ["昌元街道", "昌州街道", "广顺街道", "安富街道", "峰高街道", "双河街道", "直升镇", "路孔镇", "清江镇", "仁义镇"]
EMPLOYERS = [
    "荣昌陶瓷有限公司",
    "重庆荣昌某某食品有限公司",
    "荣昌安陶厂",
    "荣昌区夏布织造合作社",
    "重庆畜牧科技有限公司",
]
# Non-sensitive only: sensitive categories never reach sharing's projection.
CATEGORIES = ["age_4050", "low_income_family", "zero_employment_family", "recent_graduate", "disabled", "veteran"]

# The stored columns: the chain holds the subjects' digest, the table the subjects themselves.
AUDIT_COLUMNS = (*(f for f in CHAINED_FIELDS if f != "subjects_digest"), "subjects", "hash")
PUSHED = [CATALOG.get("civil_affairs", "dibao"), CATALOG.get("disabled_federation", "disability_certificate")]


# Named, so a column added to a projection table later fails loudly here rather than shifting values.
PERSON_COLUMNS = (
    "person_id",
    "subject_ref",
    "version",
    "town",
    "status",
    "deceased_on",
    "registered_unemployed_since",
)
REGISTRATION_COLUMNS = ("registration_id", "person_id", "registered_on", "closed_on")
EMPLOYMENT_COLUMNS = ("employment_id", "person_id", "version", "employer_name", "started_on", "ended_on", "end_reason")
CATEGORY_COLUMNS = ("person_id", "category", "valid_from", "valid_until")


def _day(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randrange((last - first).days + 1))


async def _seed_projection(dsn: str, refs: list[str], today: date) -> dict[str, str]:
    """Persons as the registry's snapshots would leave them; each subject_ref's status."""
    rng = random.Random(5)
    persons, registrations, employments, categories = [], [], [], []
    statuses = {}
    for ref in refs:
        person_id = uuid.uuid4()
        roll = rng.random()
        status = "employed" if roll < 0.5 else "unemployed" if roll < 0.75 else "none"
        statuses[ref] = status
        unemployed_since = None
        if status == "unemployed":
            unemployed_since = _day(rng, date(2022, 1, 1), today - timedelta(days=1))
            registrations.append((uuid.uuid4(), person_id, unemployed_since, None))
        elif rng.random() < 0.3:  # registered once, found work or gave up since
            registered = _day(rng, date(2019, 1, 1), date(2022, 12, 31))
            registrations.append(
                (uuid.uuid4(), person_id, registered, registered + timedelta(days=rng.randint(30, 400)))
            )
        if status == "employed":
            started = _day(rng, date(2015, 1, 1), today - timedelta(days=1))
            employments.append((uuid.uuid4(), person_id, 1, rng.choice(EMPLOYERS), started, None, None))
            if rng.random() < 0.3:  # an earlier job, ended before this one
                ended = started - timedelta(days=rng.randint(1, 300))
                employments.append(
                    (uuid.uuid4(), person_id, 2, rng.choice(EMPLOYERS), ended - timedelta(days=700), ended, "resigned")
                )
        if rng.random() < 0.3:
            for category in rng.sample(CATEGORIES, rng.choice((1, 1, 2))):
                expired = rng.random() < 0.15
                valid_from = _day(rng, date(2018, 1, 1), date(2024, 12, 31))
                valid_until = valid_from + timedelta(days=365) if expired else rng.choice((None, date(2027, 12, 31)))
                categories.append((person_id, category, valid_from, valid_until))
        town = rng.choice(TOWNS)
        persons.append((person_id, ref, rng.randint(1, 4), town, status, None, unemployed_since))
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            for table, columns, rows in (
                ("sharing_person", PERSON_COLUMNS, persons),
                ("sharing_person_registration", REGISTRATION_COLUMNS, registrations),
                ("sharing_employment", EMPLOYMENT_COLUMNS, employments),
                ("sharing_person_category", CATEGORY_COLUMNS, categories),
            ):
                await conn.copy_records_to_table(table, records=rows, columns=columns)
    finally:
        await conn.close()
    return statuses


def _audited_exchange(rng: random.Random, refs: list[str], clients: list[str]) -> dict[str, Any]:
    """The chained fields of one plausible exchange but seq, at and prev_hash."""
    kind = rng.random()
    subjects = sorted(set(rng.sample(refs, rng.randint(1, 5))))
    if kind < 0.4:
        pushed = rng.choice(PUSHED)
        agency, action, dataset, purpose = str(pushed.agency), "push", pushed.code, f"inbound: {pushed.title}"
    elif kind < 0.8:
        agency, action, dataset, purpose = "civil_affairs", "query", DATASET, PURPOSE
    else:
        agency, action, dataset, purpose = "civil_affairs", "verify", IDENTITY_DATASET, VERIFICATION_PURPOSE
        subjects = subjects[:1]
    refused = action == "query" and rng.random() < 0.02
    return {
        "client_id": rng.choice(clients),
        "agency": agency,
        "action": action,
        "dataset": dataset,
        "purpose": purpose,
        "outcome": "refused" if refused else "answered",
        "reason": f"agency 'civil_affairs' has no agreement {uuid.uuid4()}" if refused else None,
        "request_id": uuid.uuid4().hex,
        "records": 0 if refused else len(subjects),
        "subjects": [] if refused else subjects,
    }


async def _seed_audit(dsn: str, entries: int, refs: list[str]) -> None:
    rng = random.Random(6)
    clients = [str(uuid.uuid4()) for _ in range(12)]
    exchanges = [_audited_exchange(rng, refs, clients) for _ in range(entries)]
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            # Locked as every append locks it: an exchange during the seeding chains after it.
            head = await conn.fetchrow("SELECT seq, hash FROM sharing_audit_head WHERE id = 1 FOR UPDATE")
            seq, prev_hash = int(head["seq"]), str(head["hash"])
            started = datetime.now(UTC)
            rows, subject_rows = [], []
            for i, exchange in enumerate(exchanges):
                seq += 1
                at = started + timedelta(microseconds=37 * i)
                entry = {**exchange, "seq": seq, "at": chain_instant(at), "prev_hash": prev_hash}
                entry["subjects_digest"] = subjects_digest(entry["subjects"])
                entry["hash"] = prev_hash = entry_hash(entry)
                stored = {**entry, "at": at, "subjects": json.dumps(entry["subjects"])}
                rows.append(tuple(stored[column] for column in AUDIT_COLUMNS))
                subject_rows.extend((ref, seq) for ref in entry["subjects"])
            await conn.copy_records_to_table("sharing_audit_entry", records=rows, columns=AUDIT_COLUMNS)
            await conn.copy_records_to_table("sharing_audit_subject", records=subject_rows)
            await conn.execute("UPDATE sharing_audit_head SET seq = $1, hash = $2 WHERE id = 1", seq, prev_hash)
    finally:
        await conn.close()


async def _new_key(http: httpx.AsyncClient, gateway: str, admin_key: str, agency: str, scopes: list[str]) -> str:
    response = await http.post(
        f"{gateway}/gateway/v1/clients",
        headers={"authorization": f"Bearer {admin_key}"},
        json={"name": f"bench sharing {agency}", "agency": agency, "scopes": scopes},
    )
    response.raise_for_status()
    return str(response.json()["api_key"])


def _checked(response: httpx.Response, what: str) -> dict[str, Any]:
    # A benchmark that measured refusals would report how fast the service says no.
    if response.status_code not in (200, 201):
        raise RuntimeError(f"{what}: {response.status_code} {response.text[:300]}")
    body: dict[str, Any] = response.json()
    return body


async def outward_queries(
    config: SystemConfig, admin_key: str, *, queries: int, id_number: Callable[[int], str]
) -> list[str]:
    """Section 5; returns the seeded subject_refs, for the audit entries of section 6."""
    persons, known, unknown = 10_000, 9_000, 1_000
    gateway = f"http://127.0.0.1:{config.gateway_port}"
    dsn = asyncpg_dsn(config.database_urls["sharing"])
    # The key the running service derives subject_refs with (the development key under `make bench`).
    subject_key = SharingSettings(development_mode=True).subject_key_bytes
    print(
        f"\n5. Outward queries: {known + unknown} id numbers each ({known} known, {unknown} unknown), "
        f"{queries} one after another through the gateway"
    )
    numbers = [id_number(BASE_OFFSET + n) for n in range(persons + unknown)]
    refs = [subject_ref(subject_key, number) for number in numbers]
    today = BureauClock().today()
    started = time.perf_counter()
    statuses = await _seed_projection(dsn, refs[:persons], today)
    print(
        f"  ({persons} persons written with SQL into sharing's projection tables in "
        f"{time.perf_counter() - started:.1f} s, not registered: the registry takes about 100/s here)"
    )
    async with httpx.AsyncClient(timeout=60) as http:
        agreement = _checked(
            await http.post(
                f"{gateway}/sharing/v1/agreements",
                headers={"authorization": f"Bearer {admin_key}"},
                json={
                    "consumer_agency": "civil_affairs",
                    "dataset": DATASET,
                    "fields": FIELDS,
                    "purpose": PURPOSE,
                    "valid_from": (today - timedelta(days=1)).isoformat(),
                    "valid_until": (today + timedelta(days=365)).isoformat(),
                },
            ),
            "agreement",
        )
        civil_key = await _new_key(http, gateway, admin_key, "civil_affairs", ["sharing:query"])
        civil = {"authorization": f"Bearer {civil_key}", "content-type": "application/json"}
        rng = random.Random(7)
        latencies: list[float] = []
        sample: dict[str, Any] = {}
        for round_ in range(queries + 1):
            # A different 9,000 of the known each time, the unknown among them, in no order.
            chosen = rng.sample(range(persons), known) + list(range(persons, persons + unknown))
            rng.shuffle(chosen)
            body = json.dumps({"agreement_id": agreement["agreement_id"], "id_numbers": [numbers[i] for i in chosen]})
            sent = time.perf_counter()
            response = await http.post(
                f"{gateway}/sharing/v1/queries",
                headers=civil,
                content=body.encode(),
            )
            elapsed = (time.perf_counter() - sent) * 1000
            answer = _checked(response, "query")
            records, not_found = answer["records"], answer["not_found"]
            if len(records) != known or len(not_found) != unknown:
                raise RuntimeError(f"query answered {len(records)} records, {len(not_found)} not found")
            wrong = [r for r in records if r["status"] != statuses[refs[chosen[r["index"]]]]]
            if wrong or set(records[0]) != {"index", "id_number_masked", *FIELDS}:
                raise RuntimeError(f"query answered {len(wrong)} wrong statuses, fields {sorted(records[0])}")
            if round_ == 0:  # the first warms the connections and the service's caches; not counted
                sample = {
                    "body": len(body),
                    "answer": len(response.content),
                    "records": records,
                    "not_found": not_found,
                }
                continue
            latencies.append(elapsed)
    employed = sum(1 for r in sample["records"] if r["employer_name"])
    with_categories = sum(1 for r in sample["records"] if r["difficulty_categories"])
    print(
        f"  p50 {_percentile(latencies, 0.5):.0f} ms   p99 {_percentile(latencies, 0.99):.0f} ms   "
        f"max {max(latencies):.0f} ms   (after 1 warm-up query)"
    )
    print(
        f"  one answer: {len(sample['records'])} records ({employed} employed, {with_categories} with "
        f"categories), {len(sample['not_found'])} not_found; request {sample['body'] / 1000:.0f} KB, "
        f"answer {sample['answer'] / 1000:.0f} KB"
    )
    return refs[:persons]


async def audit_verification(config: SystemConfig, admin_key: str, *, entries: int, refs: list[str]) -> None:
    """Section 6."""
    gateway = f"http://127.0.0.1:{config.gateway_port}"
    print(f"\n6. Audit chain verification: {entries} entries added, then GET /sharing/v1/audit/verify 3 times")
    started = time.perf_counter()
    await _seed_audit(asyncpg_dsn(config.database_urls["sharing"]), entries, refs)
    print(
        f"  ({entries} chained entries of pushes, queries and verifications written with SQL after the head "
        f"in {time.perf_counter() - started:.1f} s, rather than made by as many requests)"
    )
    async with httpx.AsyncClient(timeout=120) as http:
        reader = {"authorization": f"Bearer {await _new_key(http, gateway, admin_key, 'hrss', ['sharing:read'])}"}
        for _ in range(3):
            sent = time.perf_counter()
            response = await http.get(f"{gateway}/sharing/v1/audit/verify", headers=reader)
            elapsed = time.perf_counter() - sent
            result = _checked(response, "verify")
            if not result["valid"] or result["entries"] < entries:
                raise RuntimeError(f"verification found {result}")
            print(
                f"  {elapsed:.2f} s   entries {result['entries']}   valid {result['valid']}   "
                f"{result['entries'] / elapsed:,.0f} entries/s"
            )


async def sharing(
    config: SystemConfig, admin_key: str, *, queries: int, audit_entries: int, id_number: Callable[[int], str]
) -> None:
    refs = await outward_queries(config, admin_key, queries=queries, id_number=id_number)
    await audit_verification(config, admin_key, entries=audit_entries, refs=refs)
