"""Special populations (released prisoners, drug rehabilitation) against real PostgreSQL and a real
broker: their facts travel only on sharing.sensitive-fact.v1, never on sharing.fact.v1; and a push
is shown only to the pushing agency and admin, anyone else being told it does not exist, exactly as
for a batch that does not."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa

from contracts.facts import SpecialPopulationAttributes
from contracts.sharing import FACT_RECORDED
from contracts.topics import SHARING_FACT, SHARING_SENSITIVE_FACT
from services.kit.identifiers import mask_id_number
from services.sharing.datasets.catalog import CATALOG
from tests.sharing.factories import id_number
from tests.sharing.harness import SharingService, read_facts, sharing_service
from tests.support import PostgresDatabases

pytestmark = pytest.mark.integration

SPECIAL = "/sharing/v1/agencies/public_security/datasets/special_population/records"
DIBAO = "/sharing/v1/agencies/civil_affairs/datasets/dibao/records"
PERSON = id_number("19800808", "135")

PUBLIC_SECURITY_SYSTEM = {"scopes": ["sharing:submit"], "agency": "public_security", "client_id": "gongan"}
PUBLIC_SECURITY_READER = {"scopes": ["sharing:read"], "agency": "public_security", "client_id": "gongan-audit"}
ADMIN = {"scopes": ["admin"], "agency": "hrss", "client_id": "bureau-admin"}
BUREAU_READER = {"scopes": ["sharing:read"], "agency": "hrss", "client_id": "hrss-audit"}
CIVIL_AFFAIRS_SYSTEM = {"scopes": ["sharing:submit"], "agency": "civil_affairs", "client_id": "minzheng"}
CIVIL_AFFAIRS_READER = {"scopes": ["sharing:read", "sharing:submit"], "agency": "civil_affairs", "client_id": "mz"}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def sharing(databases: PostgresDatabases, kafka_bootstrap: str) -> AsyncIterator[SharingService]:
    async with sharing_service(databases, kafka_bootstrap) as service:
        yield service


async def push(sharing: SharingService, path: str, records: list[dict[str, Any]], caller: dict[str, Any]) -> str:
    response = await sharing.client.post(path, json={"records": records}, **caller)
    assert response.status_code == 201, response.text
    batch_id: str = response.json()["batch_id"]
    return batch_id


def test_special_populations_are_the_sensitive_dataset() -> None:
    assert [d.code for d in CATALOG if d.sensitive] == ["public_security/special_population"]


async def test_special_population_facts_travel_only_on_the_sensitive_topic(
    sharing: SharingService, kafka_bootstrap: str
) -> None:
    person = id_number("19830303", "579")
    ref = sharing.subject(person)
    special = await push(
        sharing,
        SPECIAL,
        [
            {"id_number": person, "kind": "released_prisoner", "since": "2019-01-01"},
            {"id_number": person, "kind": "pickpocket", "since": "2019-01-01"},
        ],
        PUBLIC_SECURITY_SYSTEM,
    )
    # A fact of another dataset about the same person, pushed after: it must take the ordinary topic.
    ordinary = await push(sharing, DIBAO, [{"id_number": person, "since": "2018-04-01"}], CIVIL_AFFAIRS_SYSTEM)
    await sharing.wait_until_relayed()

    async with sharing.engine.connect() as conn:
        rows = (
            await conn.execute(sa.text("SELECT topic, payload FROM outbox_message WHERE key = :key"), {"key": ref})
        ).all()
    assert sorted((row.topic, json.loads(bytes(row.payload))["data"]["batch_id"]) for row in rows) == sorted(
        [(SHARING_SENSITIVE_FACT, special), (SHARING_FACT, ordinary)]
    )

    batches = {special, ordinary}
    [sensitive] = await asyncio.to_thread(read_facts, kafka_bootstrap, SHARING_SENSITIVE_FACT, batches, 1)
    [plain] = await asyncio.to_thread(read_facts, kafka_bootstrap, SHARING_FACT, batches, 1)
    assert str(plain.fact.batch_id) == ordinary
    assert str(sensitive.fact.batch_id) == special
    assert (sensitive.key, sensitive.event.subject, sensitive.event.type) == (ref.encode(), ref, FACT_RECORDED)
    assert sensitive.fact.code == "public_security/special_population"
    assert sensitive.fact.attributes == SpecialPopulationAttributes(kind="released_prisoner", since=date(2019, 1, 1))
    assert person.encode() not in sensitive.value and person[6:14].encode() not in sensitive.value


@pytest.mark.parametrize("pusher", [PUBLIC_SECURITY_SYSTEM, ADMIN], ids=["agency", "admin"])
async def test_a_special_population_batch_reads_back_only_to_its_agency_and_admin(
    sharing: SharingService, pusher: dict[str, Any]
) -> None:
    record = {"id_number": PERSON, "kind": "drug_rehab", "since": "2017-05-01"}
    batch_id = await push(sharing, SPECIAL, [record], pusher)
    path = f"/sharing/v1/batches/{batch_id}"
    for allowed in (PUBLIC_SECURITY_SYSTEM, PUBLIC_SECURITY_READER, ADMIN):
        shown = await sharing.client.get(path, **allowed)
        assert shown.status_code == 200, (allowed, shown.text)
        [record] = shown.json()["records"]
        assert (record["outcome"], record["id_number_masked"]) == ("accepted", mask_id_number(PERSON))
        assert record["fact_key"]
    unknown = await sharing.client.get(f"/sharing/v1/batches/{uuid.uuid4()}", **BUREAU_READER)
    for other in (BUREAU_READER, CIVIL_AFFAIRS_SYSTEM, CIVIL_AFFAIRS_READER):
        hidden = await sharing.client.get(path, **other)
        assert hidden.status_code == 404, (other, hidden.text)
        assert hidden.headers["content-type"] == "application/problem+json"
        # Told exactly what a batch that does not exist tells: nothing about the dataset, the person
        # or the pushing agency.
        assert {k: v for k, v in hidden.json().items() if k != "detail"} == {
            k: v for k, v in unknown.json().items() if k != "detail"
        }
        assert hidden.json()["detail"] == f"no batch {batch_id}"
        for secret in ("special_population", "public_security", mask_id_number(PERSON), "drug_rehab"):
            assert secret not in hidden.text
    for page in ("?outcome=accepted", "?limit=1", "?outcome=rejected&limit=5"):
        assert (await sharing.client.get(path + page, **BUREAU_READER)).status_code == 404


async def test_without_a_sharing_scope_it_is_still_403_first(sharing: SharingService) -> None:
    batch_id = await push(
        sharing, SPECIAL, [{"id_number": PERSON, "kind": "released_prisoner", "since": "2019-01-01"}], ADMIN
    )
    response = await sharing.client.get(f"/sharing/v1/batches/{batch_id}", scopes=["registry:read"])
    assert response.status_code == 403 and response.json()["required_scope"] == "sharing:read"


async def test_batches_of_other_datasets_still_read_back_to_any_sharing_reader(sharing: SharingService) -> None:
    batch_id = await push(sharing, DIBAO, [{"id_number": PERSON, "since": "2018-04-01"}], CIVIL_AFFAIRS_SYSTEM)
    path = f"/sharing/v1/batches/{batch_id}"
    for reader in (BUREAU_READER, PUBLIC_SECURITY_READER, CIVIL_AFFAIRS_SYSTEM, ADMIN):
        assert (await sharing.client.get(path, **reader)).status_code == 200
    # An agency's submitting key without sharing:read sees its own agency's batches only, as before.
    assert (await sharing.client.get(path, **PUBLIC_SECURITY_SYSTEM)).status_code == 404
