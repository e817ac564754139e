"""Issue 9's benchmark: the plan's indicators at 1,000,000 persons, through the gateway.

7. `GET /registry/v1/indicators` for a year and a month of the district and a month of one town,
   one call after another after a warm-up: p50 / p99 / max per kind, and one answer of each kind
   checked against counts made here with SQL of its own.

Not seeded the realistic way: the registry takes persons at about 100/s here, so 1,000,000 persons
would take hours through the API. They are written with SQL (`INSERT ... SELECT generate_series`)
straight into the registry's own tables: persons spread over Rongchang's towns as the registry's
settings list them (a few with no town or another one), urban and rural hukou; open and closed
unemployment registrations, employments (employee, self-employed, flexible, public welfare posts;
some ended) and trainings spread over 2018 to today; and the statistics bureau's urban employed total
for this year's months, which would come as `statistics/labour_force` facts. Every NOT NULL column
gets a value; the id number columns hold unique placeholders (the endpoint never reads them) and
`published_categories` the fingerprint of no categories and `categories_due_on` a day that never
comes, so the daily sweep at start-up neither reads nor publishes them all (a registry that took them
through the API holds their real days; a first sweep over a million people would compete with the
reads measured here for minutes). No events are published for them. The tables are vacuumed and
analysed afterwards, as autovacuum would leave a registry that grew over years.
"""

from __future__ import annotations

import calendar
import time
import uuid
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx

from bench.decisions import _percentile
from deploy.embedded import SystemConfig
from services.kit.clock import BUREAU_TZ, BureauClock
from services.registry.settings import RegistrySettings
from tests.support import asyncpg_dsn

PERSONS = 1_000_000
OPEN_REGISTRATIONS = 60_000
CLOSED_REGISTRATIONS = 100_000
EMPLOYMENTS = 400_000
TRAININGS = 80_000
FIRST_DAY = date(2018, 1, 1)
SLOTS = 1000  # a person's town is one of this many slots, drawn at random
TABLES = (
    "registry_person",
    "registry_unemployment_registration",
    "registry_employment",
    "registry_training",
    "registry_labour_force",
)
EMPLOYERS = [
    "荣昌陶瓷有限公司",
    "重庆荣昌某某食品有限公司",
    "荣昌安陶厂",
    "荣昌区夏布织造合作社",
    "重庆畜牧科技有限公司",
    "荣昌区人民医院",
    "重庆荣昌某某物流有限公司",
    "荣昌区某某建筑工程有限公司",
]
END_REASONS = ["resigned", "contract_expired", "dismissed", "layoff", "enterprise_closed"]
PROVIDERS = ["荣昌区职业教育中心", "荣昌区就业培训中心", "重庆某某职业技能培训学校"]


def _town_slots(towns: list[str]) -> list[str | None]:
    """SLOTS slots: the six 街道 larger than the towns, 3% with no town, 0.5% another town."""
    weights = {
        town: (2.5 if town.endswith("街道") else 1.0) * (1.3 if i % 3 == 0 else 1.0) for i, town in enumerate(towns)
    }
    placed = SLOTS - 30 - 5
    total = sum(weights.values())
    slots: list[str | None] = []
    for town, weight in weights.items():
        slots += [town] * round(placed * weight / total)
    slots = slots[:placed]
    slots += [towns[0]] * (placed - len(slots))
    return slots + [None] * 30 + ["重庆市荣昌区"] * 5


# Persons: the unique columns from the row's number (the blind index and subject_ref are 64 hex
# characters, as HMAC-SHA256 gives them); person_id an md5 of the number, random-looking as uuid4.
PERSON_SQL = """
INSERT INTO registry_person (
    person_id, id_number_ciphertext, id_number_index, id_number_masked, subject_ref, name, phone, gender,
    birth_date, hukou_type, hukou_local, town, education, version, published_categories, categories_due_on,
    created_at, updated_at
)
SELECT md5('person ' || i)::uuid,
       decode(md5('nonce ' || i) || md5('ciphertext ' || i) || md5('tag ' || i), 'hex'),
       lpad(to_hex(i), 64, '0'),
       '500153********' || lpad((i % 10000)::text, 4, '0'),
       lpad(to_hex(i), 64, '0'),
       '荣昌居民',
       CASE WHEN r_phone < 0.6 THEN '138' || lpad((i % 100000000)::text, 8, '0') END,
       CASE WHEN r_gender < 0.51 THEN 'male' ELSE 'female' END,
       date '1956-01-01' + floor(r_birth * 19000)::int,
       CASE WHEN r_hukou < 0.45 THEN 'urban' ELSE 'rural' END,
       r_local < 0.92,
       ($2::text[])[1 + floor(r_town * $3::int)::int],
       CASE WHEN r_phone < 0.3 THEN 'senior_high' WHEN r_phone < 0.4 THEN 'bachelor' END,
       1 + floor(r_version * 3)::int,
       '|',
       date '9999-12-31',
       created_at,
       LEAST(created_at + r_version * interval '400 days', $5::timestamptz)
FROM (
    SELECT i, random() AS r_phone, random() AS r_gender, random() AS r_birth, random() AS r_hukou,
           random() AS r_local, random() AS r_town, random() AS r_version,
           $4::timestamptz + random() * ($5::timestamptz - $4::timestamptz) AS created_at
    FROM generate_series(1, $1) AS i
) AS drawn
"""

# Open registrations: distinct persons (one open each, as the partial unique index wants), more of
# them recent; closed ones: any person, closed 20 to 500 days later, by yesterday at the latest.
OPEN_SQL = """
INSERT INTO registry_unemployment_registration (registration_id, person_id, registered_on, closed_on, close_reason,
                                                created_at)
SELECT md5('open registration ' || g)::uuid, md5('person ' || (g * $2::int))::uuid, registered_on, NULL, NULL,
       registered_on::timestamptz + interval '9 hours'
FROM (
    SELECT g, $4::date - 1 - floor(power(random(), 2) * ($4::date - 1 - $3::date))::int AS registered_on
    FROM generate_series(1, $1) AS g
) AS drawn
"""
CLOSED_SQL = """
INSERT INTO registry_unemployment_registration (registration_id, person_id, registered_on, closed_on, close_reason,
                                                created_at)
SELECT md5('closed registration ' || g)::uuid, md5('person ' || person_no)::uuid, registered_on,
       LEAST(registered_on + 20 + floor(r_length * 480)::int, $4::date - 1), 'employed',
       registered_on::timestamptz + interval '9 hours'
FROM (
    SELECT g, 1 + floor(random() * $2::int)::int AS person_no, random() AS r_length,
           $3::date + floor(random() * ($4::date - 3 - $3::date))::int AS registered_on
    FROM generate_series(1, $1) AS g
) AS drawn
"""
EMPLOYMENT_SQL = """
INSERT INTO registry_employment (employment_id, person_id, employer_credit_code, employer_name, kind, started_on,
                                 contract_months, ended_on, end_reason, version, created_at)
SELECT md5('employment ' || g)::uuid, md5('person ' || person_no)::uuid,
       '91500226' || lpad(employer::text, 10, '0'),
       ($5::text[])[1 + employer % array_length($5::text[], 1)],
       kind, started_on,
       CASE WHEN kind = 'employee' THEN (ARRAY[12, 24, 36])[1 + employer % 3] END,
       CASE WHEN ends THEN would_end END,
       CASE WHEN ends THEN ($6::text[])[1 + g % array_length($6::text[], 1)] END,
       CASE WHEN ends THEN 2 ELSE 1 END,
       started_on::timestamptz + interval '10 hours'
FROM (
    SELECT *, r_ended < 0.35 AND would_end < $4::date AS ends
    FROM (
        SELECT g, 1 + floor(random() * $2::int)::int AS person_no, floor(random() * 8000)::int AS employer,
               CASE WHEN r_kind < 0.10 THEN 'self_employed' WHEN r_kind < 0.30 THEN 'flexible'
                    WHEN r_kind < 0.32 THEN 'public_welfare_post' ELSE 'employee' END AS kind,
               started_on, started_on + 30 + floor(random() * 900)::int AS would_end, random() AS r_ended
        FROM (
            SELECT g, random() AS r_kind, $3::date + floor(random() * ($4::date - $3::date))::int AS started_on
            FROM generate_series(1, $1) AS g
        ) AS days
    ) AS drawn
) AS ending
"""
TRAINING_SQL = """
INSERT INTO registry_training (training_id, person_id, kind, completed_on, certificate_level, provider, created_at)
SELECT md5('training ' || g)::uuid, md5('person ' || (1 + floor(random() * $2::int)::int))::uuid,
       CASE WHEN r_kind < 0.8 THEN 'vocational' ELSE 'entrepreneurship' END,
       completed_on,
       CASE WHEN r_kind < 0.3 THEN 'elementary' WHEN r_kind < 0.5 THEN 'intermediate' WHEN r_kind < 0.55 THEN 'advanced'
       END,
       ($5::text[])[1 + g % array_length($5::text[], 1)],
       completed_on::timestamptz + interval '16 hours'
FROM (
    SELECT g, random() AS r_kind, $3::date + floor(random() * ($4::date - $3::date))::int AS completed_on
    FROM generate_series(1, $1) AS g
) AS drawn
"""


async def _seed(dsn: str, towns: list[str], today: date) -> list[tuple[str, float]]:
    """Write the rows; (what, seconds) per step."""
    steps: list[tuple[str, float]] = []
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SET synchronous_commit = off")
        await conn.execute("SELECT setseed(0.9)")
        started = time.perf_counter()

        async def step(what: str, sql: str, *args: Any) -> None:
            nonlocal started
            await conn.execute(sql, *args)
            steps.append((what, time.perf_counter() - started))
            started = time.perf_counter()

        await step(
            f"{PERSONS:,} persons",
            PERSON_SQL,
            PERSONS,
            _town_slots(towns),
            SLOTS,
            datetime.combine(FIRST_DAY, datetime.min.time(), BUREAU_TZ),
            datetime.combine(today, datetime.min.time(), BUREAU_TZ),
        )
        await step(
            f"{OPEN_REGISTRATIONS:,} open registrations",
            OPEN_SQL,
            OPEN_REGISTRATIONS,
            PERSONS // OPEN_REGISTRATIONS,
            FIRST_DAY,
            today,
        )
        await step(
            f"{CLOSED_REGISTRATIONS:,} closed registrations",
            CLOSED_SQL,
            CLOSED_REGISTRATIONS,
            PERSONS,
            FIRST_DAY,
            today,
        )
        await step(
            f"{EMPLOYMENTS:,} employments",
            EMPLOYMENT_SQL,
            EMPLOYMENTS,
            PERSONS,
            FIRST_DAY,
            today,
            EMPLOYERS,
            END_REASONS,
        )
        await step(f"{TRAININGS:,} trainings", TRAINING_SQL, TRAININGS, PERSONS, FIRST_DAY, today, PROVIDERS)
        # Reported for each month ended: this year's and the last one (December's, in January).
        last_month = today.replace(day=1) - timedelta(days=1)
        months = sorted({f"{today.year}-{m:02d}" for m in range(1, today.month)} | {f"{last_month:%Y-%m}"})
        await conn.executemany(
            "INSERT INTO registry_labour_force (period, urban_employed_total, fact_id, received_at) "
            "VALUES ($1, $2, $3, now()) ON CONFLICT (period) DO NOTHING",
            [(month, 850_000 + 1_500 * i, uuid.uuid4()) for i, month in enumerate(months)],
        )
        for table in TABLES:
            await conn.execute(f"VACUUM (ANALYZE) {table}")
        # The seed's dirty pages written out now, not by a checkpoint in the middle of the measuring
        # (it took a third of a core for about a minute after the seed, in PostgreSQL's own processes).
        await conn.execute("CHECKPOINT")
        steps.append(("vacuum, analyse and checkpoint", time.perf_counter() - started))
    finally:
        await conn.close()
    return steps


def _period_last(period: str) -> date:
    year, _, month = period.partition("-")
    if not month:
        return date(int(year), 12, 31)
    return date(int(year), int(month), calendar.monthrange(int(year), int(month))[1])


async def _expected(dsn: str, answer: dict[str, Any]) -> dict[str, int]:
    """The same counts, worded differently in SQL of the benchmark's own."""
    first, last = date.fromisoformat(answer["first_day"]), _period_last(answer["period"])
    as_of, town = date.fromisoformat(answer["as_of"]), answer["town"]
    # $1: the town (NULL for the district).
    of_town = "AND ($1::text IS NULL OR t.person_id IN (SELECT person_id FROM registry_person WHERE town = $1))"
    jobs = f"SELECT count(*) FROM registry_employment t WHERE started_on BETWEEN $2 AND $3 {of_town}"
    trained = f"SELECT count(*) FROM registry_training t WHERE completed_on BETWEEN $2 AND $3 {of_town}"
    registered = (
        "SELECT count(*) FROM (SELECT DISTINCT person_id FROM registry_unemployment_registration t "
        f"WHERE registered_on <= $2 AND coalesce(closed_on, 'infinity') > $2 {of_town}) AS open_at_end"
    )
    conn = await asyncpg.connect(dsn)
    try:
        return {
            "new_urban_jobs": await conn.fetchval(jobs, town, first, last),
            "new_entrepreneurs": await conn.fetchval(jobs + " AND kind = 'self_employed'", town, first, last),
            "trained": await conn.fetchval(trained, town, first, last),
            "registered_unemployed": await conn.fetchval(registered, town, as_of),
        }
    finally:
        await conn.close()


async def indicators(config: SystemConfig, admin_key: str, *, calls: int) -> None:
    """Section 7."""
    gateway = f"http://127.0.0.1:{config.gateway_port}"
    dsn = asyncpg_dsn(config.database_urls["registry"])
    towns = list(RegistrySettings.model_fields["towns"].default)
    today = BureauClock().today()
    month = today.replace(day=1) - timedelta(days=1)
    print(f"\n7. Indicators at {PERSONS:,} persons: GET /registry/v1/indicators through the gateway")
    started = time.perf_counter()
    steps = await _seed(dsn, towns, today)
    print(
        f"  ({PERSONS:,} persons, {OPEN_REGISTRATIONS:,} open and {CLOSED_REGISTRATIONS:,} closed unemployment "
        f"registrations, {EMPLOYMENTS:,} employments and {TRAININGS:,} trainings over {FIRST_DAY.year}-"
        f"{today.year} written with SQL into the registry's tables in {time.perf_counter() - started:.1f} s, "
        "not registered: the registry takes about 100/s here)"
    )
    print("  (" + "; ".join(f"{what} {seconds:.1f} s" for what, seconds in steps) + ")")
    town = towns[0]
    # (label, query, whether the rate is answered: for the district once a month of it is reported)
    kinds = [
        ("year, district", f"period={today.year}", today.month > 1),
        ("month, district", f"period={month:%Y-%m}", True),
        (f"month, {town}", f"period={month:%Y-%m}&town={quote(town)}", False),
    ]
    async with httpx.AsyncClient(timeout=60) as http:
        response = await http.post(
            f"{gateway}/gateway/v1/clients",
            headers={"authorization": f"Bearer {admin_key}"},
            json={"name": "bench monitoring", "agency": "hrss", "scopes": ["monitoring:read"]},
        )
        response.raise_for_status()
        reader = {"authorization": f"Bearer {response.json()['api_key']}"}

        async def call(query: str) -> tuple[float, dict[str, Any]]:
            sent = time.perf_counter()
            response = await http.get(f"{gateway}/registry/v1/indicators?{query}", headers=reader)
            elapsed = (time.perf_counter() - sent) * 1000
            if response.status_code != 200:
                raise RuntimeError(f"indicators?{query}: {response.status_code} {response.text[:300]}")
            body: dict[str, Any] = response.json()
            return elapsed, body

        print(f"  {calls} calls of each kind one after another, after 2 warm-up calls of each (not counted)")
        for label, query, with_rate in kinds:
            for _ in range(2):
                _, answer = await call(query)
            latencies = [(await call(query))[0] for _ in range(calls)]
            values = {i["code"]: i["value"] for i in answer["indicators"]}
            expected = await _expected(dsn, answer)
            wrong = {code: (values[code], count) for code, count in expected.items() if values[code] != count}
            if wrong or not all(expected.values()):
                raise RuntimeError(f"{label}: answered/expected {wrong}, expected {expected}")
            rate = values["registered_urban_unemployment_rate"]
            if (rate is not None) != with_rate:
                raise RuntimeError(f"{label}: rate {rate}")
            print(
                f"  {label:<20} p50 {_percentile(latencies, 0.5):.0f} ms   p99 {_percentile(latencies, 0.99):.0f} ms   "
                f"max {max(latencies):.0f} ms"
            )
            where = f"{answer['period']} {answer['town'] or 'district'}"
            print(
                f"  {'':<20} {where}: new_urban_jobs {values['new_urban_jobs']:.0f}, new_entrepreneurs "
                f"{values['new_entrepreneurs']:.0f}, trained {values['trained']:.0f}, registered_unemployed "
                f"{values['registered_unemployed']:.0f}, rate {rate} (as of {answer['as_of']}; the counts match SQL's)"
            )
