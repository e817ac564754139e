"""The plan's indicators (SPEC 2.5) from the registry's own tables, through the running registry against
real PostgreSQL and tansu: counts per period and town, the rate once the statistics bureau reports
(its fact crossing the broker), the targets, the gauges, and bad periods."""

from __future__ import annotations

import asyncio
import contextvars
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any
from urllib.parse import quote

import pytest
import pytest_asyncio
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from prometheus_client import REGISTRY as METRICS
from sqlalchemy.ext.asyncio import create_async_engine

from contracts.envelope import new_event
from contracts.facts import LabourForceAttributes
from contracts.sharing import FACT_RECORDED, Fact
from contracts.topics import SHARING_FACT
from services.registry.indicators.metrics import refresh
from services.registry.indicators.repository import IndicatorRepository
from tests.registry.conftest import registry_on
from tests.registry.people import credit_code, employment_body, id_number
from tests.support import PostgresDatabases, ServiceClient, eventually

pytestmark = pytest.mark.integration

TODAY = date(2026, 12, 3)
READER = {"scopes": ["registry:read"]}
MONITOR = {"scopes": ["monitoring:read"]}
CENTRE, EAST = "昌元街道", "广顺街道"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def registry(kafka_bootstrap: str, databases: PostgresDatabases) -> AsyncIterator[tuple[ServiceClient, FastAPI]]:
    async with registry_on(TODAY, kafka_bootstrap, databases) as started:
        yield started


async def register(client: ServiceClient, town: str | None, hukou_type: str = "urban") -> str:
    body = {"id_number": id_number(), "name": "荣昌居民", "hukou_type": hukou_type, "town": town}
    response = await client.post("/registry/v1/persons", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["person_id"])


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def people(registry: tuple[ServiceClient, FastAPI]) -> None:
    client, _ = registry
    for town, hukou in ((CENTRE, "urban"), (CENTRE, "urban"), (CENTRE, "rural")):
        person = await register(client, town, hukou)
        on = "2026-11-05" if hukou == "urban" else "2026-10-01"
        response = await client.post(
            f"/registry/v1/persons/{person}/unemployment-registrations", json={"registered_on": on}
        )
        assert response.status_code == 201, response.text
        trained = await client.post(
            f"/registry/v1/persons/{person}/trainings",
            json={"kind": "vocational", "completed_on": "2026-11-12" if hukou == "urban" else "2026-12-01"},
        )
        assert trained.status_code == 201, trained.text
    for town, kind, started in (
        (EAST, "employee", "2026-11-10"),
        (EAST, "self_employed", "2026-11-20"),
        (CENTRE, "employee", "2026-10-15"),
    ):
        person = await register(client, town)
        hired = await client.post(
            f"/registry/v1/persons/{person}/employments",
            json={
                "employer_credit_code": credit_code(),
                "employer_name": "荣昌夏布厂",
                "started_on": started,
                "kind": kind,
            },
        )
        assert hired.status_code == 201, hired.text


async def indicators(client: ServiceClient, query: str, **caller: Any) -> dict[str, Any]:
    response = await client.get(f"/registry/v1/indicators?{query}", **(caller or READER))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def values(body: dict[str, Any]) -> dict[str, Any]:
    return {i["code"]: i["value"] for i in body["indicators"]}


async def test_a_month_counts_what_happened_in_it(registry: tuple[ServiceClient, FastAPI], people: None) -> None:
    client, _ = registry
    body = await indicators(client, "period=2026-11")
    assert (body["first_day"], body["as_of"], body["town"]) == ("2026-11-01", "2026-11-30", None)
    assert values(body) == {
        "new_urban_jobs": 2,
        "registered_unemployed": 3,
        "registered_urban_unemployment_rate": None,
        "new_entrepreneurs": 1,
        "trained": 2,
    }
    october = values(await indicators(client, "period=2026-10", **MONITOR))
    assert (october["new_urban_jobs"], october["registered_unemployed"], october["trained"]) == (1, 1, 0)


async def test_a_year_counts_to_today_against_the_plan_s_targets(
    registry: tuple[ServiceClient, FastAPI], people: None
) -> None:
    client, _ = registry
    body = await indicators(client, "period=2026")
    assert body["as_of"] == TODAY.isoformat()
    by_code = {i["code"]: i for i in body["indicators"]}
    assert (by_code["new_urban_jobs"]["value"], by_code["new_urban_jobs"]["target"]) == (3, 12_000)
    assert by_code["new_urban_jobs"]["share_of_target"] == round(3 / 12_000, 4)
    assert (by_code["trained"]["value"], by_code["trained"]["target"]) == (3, 3_000)
    assert by_code["new_entrepreneurs"]["target"] == 6_100
    assert by_code["registered_unemployed"]["target"] is None
    assert by_code["registered_urban_unemployment_rate"]["target"] == 0.034


async def test_a_town_counts_its_own_people(registry: tuple[ServiceClient, FastAPI], people: None) -> None:
    client, _ = registry
    east = values(await indicators(client, f"period=2026-11&town={quote(EAST)}"))
    centre = values(await indicators(client, f"period=2026-11&town={quote(CENTRE)}"))
    assert (east["new_urban_jobs"], east["new_entrepreneurs"], east["registered_unemployed"]) == (2, 1, 0)
    assert (centre["new_urban_jobs"], centre["registered_unemployed"], centre["trained"]) == (0, 3, 2)
    nowhere = values(await indicators(client, f"period=2026-11&town={quote('无此镇')}"))
    assert nowhere["new_urban_jobs"] == 0 and nowhere["registered_urban_unemployment_rate"] is None


async def test_the_rate_appears_once_the_statistics_bureau_reports(
    registry: tuple[ServiceClient, FastAPI], people: None, kafka_bootstrap: str
) -> None:
    client, app = registry
    assert values(await indicators(client, "period=2026-11"))["registered_urban_unemployment_rate"] is None
    fact = Fact(
        fact_id=uuid.uuid4(),
        agency="statistics",
        dataset="labour_force",
        batch_id=uuid.uuid4(),
        record_index=0,
        key="2026-11",
        attributes=LabourForceAttributes(period="2026-11", urban_employed_total=98),
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        event = new_event(source="/sharing", type=FACT_RECORDED, subject=None, data=fact)
        await producer.send_and_wait(SHARING_FACT, event.to_bytes(), key=b"2026-11")
    finally:
        await producer.stop()

    async def reported() -> bool:
        return values(await indicators(client, "period=2026-11"))["registered_urban_unemployment_rate"] is not None

    await eventually(reported, within=60)
    body = await indicators(client, "period=2026-11")
    rate = {i["code"]: i for i in body["indicators"]}["registered_urban_unemployment_rate"]
    assert body["labour_force_period"] == "2026-11"
    assert rate["value"] == 0.02  # 2 urban registered unemployed / (2 + 98)
    assert rate["share_of_target"] == round(0.02 / 0.034, 4)
    year = await indicators(client, "period=2026")
    assert year["labour_force_period"] == "2026-11", "the year's latest report"
    town = values(await indicators(client, f"period=2026-11&town={quote(CENTRE)}"))
    assert town["registered_urban_unemployment_rate"] is None, "the bureau reports for the district only"

    await refresh(app.state.db, app.state.settings, app.state.clock)

    def gauge(code: str, town: str) -> float | None:
        return METRICS.get_sample_value("registry_indicator", {"code": code, "town": town})

    assert gauge("new_urban_jobs", EAST) == 2 and gauge("new_urban_jobs", CENTRE) == 1
    assert gauge("new_urban_jobs", "all") == 3 and gauge("registered_unemployed", CENTRE) == 3
    assert gauge("registered_urban_unemployment_rate", "all") == 0.02
    # The district's gauges are the towns' counts summed: the same as the district's own answer.
    this_year = values(await indicators(client, f"period={app.state.clock.today().year}"))
    assert {code: gauge(code, "all") for code in this_year} == this_year
    assert gauge("new_urban_jobs", "other") == 0
    assert METRICS.get_sample_value("registry_indicator_target", {"code": "new_urban_jobs"}) == 12_000
    persons = {
        sample.labels["town"]: sample.value
        for metric in METRICS.collect()
        if metric.name == "registry_persons"
        for sample in metric.samples
    }
    assert persons[CENTRE] >= 3 and persons[EAST] >= 2
    assert persons["all"] == sum(value for town, value in persons.items() if town != "all")


async def test_the_district_s_gauges_count_people_of_no_town_and_of_other_towns(
    kafka_bootstrap: str, databases: PostgresDatabases
) -> None:
    """The gauges sum the towns' counts for `all`: people with no town and with a town outside
    REGISTRY_TOWNS count there (and under `other`) as in the district's own answer."""
    async with registry_on(TODAY, kafka_bootstrap, databases) as (client, app):
        for town in (None, "外区某镇", CENTRE):
            person = await register(client, town)
            for path, payload in (
                ("unemployment-registrations", {"registered_on": "2026-11-05"}),
                ("trainings", {"kind": "vocational", "completed_on": "2026-11-12"}),
            ):
                response = await client.post(f"/registry/v1/persons/{person}/{path}", json=payload)
                assert response.status_code == 201, response.text
            hired = await client.post(
                f"/registry/v1/persons/{person}/employments", json=employment_body(started_on="2026-11-20")
            )
            assert hired.status_code == 201, hired.text
        await refresh(app.state.db, app.state.settings, app.state.clock)

        def gauge(code: str, town: str) -> float | None:
            return METRICS.get_sample_value("registry_indicator", {"code": code, "town": town})

        district = values(await indicators(client, "period=2026"))
        assert district["new_urban_jobs"] == 3 and district["trained"] == 3
        assert {code: gauge(code, "all") for code in district} == district
        assert gauge("new_urban_jobs", "other") == 2 and gauge("new_urban_jobs", CENTRE) == 1


async def test_a_refresh_ending_after_a_later_one_leaves_the_later_figures(
    kafka_bootstrap: str, databases: PostgresDatabases, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two refreshes overlap (the timer's and one asked for): the one that read first but ends last
    must not put its older counts back on the gauges."""
    held, release = asyncio.Event(), asyncio.Event()
    hold = contextvars.ContextVar("hold", default=False)
    counts = IndicatorRepository.counts

    async def counts_then_wait(self: IndicatorRepository, *args: Any, **kwargs: Any) -> Any:
        read = await counts(self, *args, **kwargs)
        if hold.get():
            held.set()
            await release.wait()
        return read

    monkeypatch.setattr(IndicatorRepository, "counts", counts_then_wait)
    async with registry_on(TODAY, kafka_bootstrap, databases) as (client, app):
        state = app.state
        token = hold.set(True)  # only the task created now (it copies the context) waits
        older = asyncio.create_task(refresh(state.db, state.settings, state.clock))
        hold.reset(token)
        try:
            await asyncio.wait_for(held.wait(), 10)  # it has read: nobody in the centre works yet
            person = await register(client, CENTRE)
            hired = await client.post(
                f"/registry/v1/persons/{person}/employments", json=employment_body(started_on="2026-11-20")
            )
            assert hired.status_code == 201, hired.text
            await refresh(state.db, state.settings, state.clock)
        finally:
            release.set()
            await older
        assert METRICS.get_sample_value("registry_indicator", {"code": "new_urban_jobs", "town": CENTRE}) == 1


@pytest.mark.parametrize(
    ("query", "status", "slug"),
    [
        ("period=2026-13", 422, "invalid-period"),
        ("period=26", 422, "invalid-period"),
        ("period=2026-1", 422, "invalid-period"),
        ("period=0000", 422, "invalid-period"),
        ("period=2027", 422, "period-in-future"),
        ("period=2026-12-01", 422, "validation-error"),
        ("", 422, "validation-error"),
    ],
)
async def test_a_bad_period_is_a_422(
    registry: tuple[ServiceClient, FastAPI], query: str, status: int, slug: str
) -> None:
    client, _ = registry
    response = await client.get(f"/registry/v1/indicators?{query}", **READER)
    assert response.status_code == status, response.text
    assert response.json()["type"].endswith(f":{slug}")


async def test_indicators_need_a_monitoring_or_registry_read_scope(registry: tuple[ServiceClient, FastAPI]) -> None:
    client, _ = registry
    response = await client.get("/registry/v1/indicators?period=2026", scopes=["subsidy:read"])
    assert response.status_code == 403 and response.json()["required_scope"] == "monitoring:read"


async def test_the_counts_are_aggregate_queries_on_indexed_columns(registry: tuple[ServiceClient, FastAPI]) -> None:
    _, app = registry
    engine = create_async_engine(app.state.settings.database_url)
    try:
        async with engine.connect() as conn:
            indexes = {
                row[0]
                for row in await conn.execute(
                    sa.text("SELECT indexname FROM pg_indexes WHERE tablename LIKE 'registry_%'")
                )
            }
    finally:
        await engine.dispose()
    assert {
        "ix_registry_employment_started_on",
        "ix_registry_training_completed_on",
        "ix_registry_unemployment_registration_registered_on",
        "ix_registry_person_town",
    } <= indexes
