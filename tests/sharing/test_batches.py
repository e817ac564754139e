"""Pushing agency datasets through the running sharing service, against real PostgreSQL and a real
tansu broker: per-record outcomes, facts on sharing.fact.v1, sealed raw batches, and bad input
that changes nothing."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import sqlalchemy as sa
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import create_async_engine

from contracts.facts import DibaoAttributes, LabourForceAttributes
from contracts.sharing import FACT_RECORDED, Fact
from contracts.vocabulary import Agency
from services.kit.errors import PROBLEM_JSON
from services.kit.identifiers import mask_id_number
from services.kit.migrations import upgrade
from services.sharing.app import create_app
from services.sharing.sealing import BatchSealer
from services.sharing.settings import SharingSettings
from tests.sharing.factories import id_number, with_impossible_birth_date, with_wrong_check
from tests.sharing.harness import NEVER_S, SharingService, facts_of_batch, sharing_service
from tests.support import PostgresDatabases, running

pytestmark = pytest.mark.integration

DIBAO_PATH = "/sharing/v1/agencies/civil_affairs/datasets/dibao/records"
SUBMIT = ["sharing:submit"]
CIVIL_AFFAIRS = {"scopes": SUBMIT, "agency": "civil_affairs", "client_id": "civil-affairs-system"}

ALICE = id_number("19750312", "222")
BOB = id_number("19680101", "111")
CAROL = id_number("19950630", "468")
DAVE = id_number("19800808", "135")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def sharing(kafka_bootstrap: str, databases: PostgresDatabases) -> AsyncIterator[SharingService]:
    async with sharing_service(databases, kafka_bootstrap) as service:
        yield service


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["type"] == f"urn:rongchang-employment:problem:{slug}"
    assert problem["status"] == status
    assert problem["title"] and problem["detail"]
    return problem


MIXED_RECORDS: list[Any] = [
    {"id_number": ALICE, "household_no": "H-500153-001", "since": "2018-04-01"},  # 0 accepted
    {"id_number": with_wrong_check(BOB), "since": "2018-04-01"},  # 1 wrong check character
    {"id_number": BOB, "since": "2018-05-01", "until": "2019-04-30"},  # 2 accepted
    {"id_number": with_impossible_birth_date(), "since": "2018-02-30"},  # 3 impossible dates
    {"id_number": CAROL[:17], "since": "2018-04-01"},  # 4 wrong length
    {"id_number": CAROL, "since": "2018-06-01", "until": "2018-05-31"},  # 5 until before since
    {"id_number": DAVE},  # 6 missing since
    {"id_number": CAROL.lower(), "since": "2018-06-01", "until": "2018-06-01"},  # 7 accepted (lower-case x)
    "not a record",  # 8
]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def mixed_batch(sharing: SharingService) -> httpx.Response:
    return await sharing.client.post(DIBAO_PATH, json={"records": MIXED_RECORDS}, **CIVIL_AFFAIRS)


def facts_counted(outcome: str) -> float:
    labels = {"agency": "civil_affairs", "dataset": "dibao", "outcome": outcome}
    return REGISTRY.get_sample_value("sharing_facts_total", labels) or 0.0


async def test_pushed_records_are_counted_by_agency_dataset_and_outcome(sharing: SharingService) -> None:
    before = facts_counted("accepted"), facts_counted("rejected")
    pushed = await sharing.client.post(DIBAO_PATH, json={"records": MIXED_RECORDS}, **CIVIL_AFFAIRS)
    assert pushed.status_code == 201, pushed.text
    assert (facts_counted("accepted") - before[0], facts_counted("rejected") - before[1]) == (3, 6)
    refused = await sharing.client.post(DIBAO_PATH, json={"records": "not a list"}, **CIVIL_AFFAIRS)
    assert refused.status_code == 422
    assert (facts_counted("accepted") - before[0], facts_counted("rejected") - before[1]) == (3, 6)


class TestMixedJsonBatch:
    async def test_valid_records_are_accepted_and_each_invalid_one_comes_back_with_all_its_errors(
        self, mixed_batch: httpx.Response
    ) -> None:
        assert mixed_batch.status_code == 201, mixed_batch.text
        receipt = mixed_batch.json()
        assert mixed_batch.headers["location"] == f"/sharing/v1/batches/{receipt['batch_id']}"
        assert receipt["agency"] == "civil_affairs" and receipt["dataset"] == "dibao"
        assert receipt["record_count"] == 9
        assert receipt["accepted"] == 3
        assert receipt["rejected"] == [
            {
                "index": 1,
                "errors": [{"field": "id_number", "message": "the check character of the id number is wrong"}],
            },
            {
                "index": 3,
                "errors": [
                    {"field": "id_number", "message": "the birth date in the id number is not a calendar date"},
                    {"field": "since", "message": "is not a calendar date"},
                ],
            },
            {
                "index": 4,
                "errors": [{"field": "id_number", "message": "a resident id number has 18 characters, not 17"}],
            },
            {"index": 5, "errors": [{"field": "until", "message": "must not be before since"}]},
            {"index": 6, "errors": [{"field": "since", "message": "is required"}]},
            {"index": 8, "errors": [{"field": None, "message": "a record is an object of named fields, not a string"}]},
        ]

    async def test_accepted_records_arrive_as_facts_keyed_by_subject_ref(
        self, sharing: SharingService, kafka_bootstrap: str, mixed_batch: httpx.Response
    ) -> None:
        batch_id = mixed_batch.json()["batch_id"]
        messages = await facts_of_batch(sharing, kafka_bootstrap, batch_id, 3)
        facts = {m.event.payload(Fact).record_index: (m, m.event.payload(Fact)) for m in messages}
        assert sorted(facts) == [0, 2, 7]
        expected = {
            0: (ALICE, "2018-04-01", None, DibaoAttributes(household_no="H-500153-001", since=date(2018, 4, 1))),
            2: (BOB, "2018-05-01", "2019-04-30", DibaoAttributes(since=date(2018, 5, 1), until=date(2019, 4, 30))),
            7: (CAROL, "2018-06-01", "2018-06-01", DibaoAttributes(since=date(2018, 6, 1), until=date(2018, 6, 1))),
        }
        for index, (person, valid_from, valid_until, attributes) in expected.items():
            message, fact = facts[index]
            ref = sharing.subject(person)
            assert message.key == ref.encode()
            assert message.event.type == FACT_RECORDED and message.event.source == "/sharing"
            assert message.event.subject == ref
            # Structured content mode: the event in the value, no `ce_` header; the push's trace goes on.
            assert dict(message.headers)["content-type"] == b"application/cloudevents+json"
            assert [name for name, _ in message.headers] == ["content-type", "traceparent"]
            assert (fact.agency, fact.dataset, str(fact.batch_id)) == ("civil_affairs", "dibao", batch_id)
            assert fact.subject_ref == fact.key == ref
            assert str(fact.valid_from) == valid_from
            assert (str(fact.valid_until) if fact.valid_until else None) == valid_until
            assert fact.attributes == attributes
            assert message.event.data["attributes"]["dataset"] == "civil_affairs/dibao"

    async def test_no_id_number_travels_on_kafka(
        self, sharing: SharingService, kafka_bootstrap: str, mixed_batch: httpx.Response
    ) -> None:
        messages = await facts_of_batch(sharing, kafka_bootstrap, mixed_batch.json()["batch_id"], 3)
        assert len(messages) == 3
        wire = b"".join(m.key + m.value + b"".join(k.encode() + v for k, v in m.headers) for m in messages)
        for person in (ALICE, BOB, CAROL, CAROL.lower(), DAVE, with_wrong_check(BOB), CAROL[:17]):
            assert person.encode() not in wire
        assert CAROL[6:14].encode() not in wire  # not even the birth date part

    async def test_the_raw_batch_is_kept_sealed_and_no_table_holds_a_raw_id_number(
        self, sharing: SharingService, mixed_batch: httpx.Response
    ) -> None:
        batch_id = uuid.UUID(mixed_batch.json()["batch_id"])
        async with sharing.engine.connect() as conn:
            batch = (await conn.execute(sa.text("SELECT * FROM sharing_batch WHERE id = :id"), {"id": batch_id})).one()
            stored = [
                repr(tuple(row))
                for table in ("sharing_batch", "sharing_record", "outbox_message")
                for row in (await conn.execute(sa.text(f"SELECT * FROM {table}"))).all()
            ]
        assert (batch.agency, batch.dataset, batch.submitted_by) == ("civil_affairs", "dibao", "civil-affairs-system")
        assert batch.content_type == "application/json"
        assert (batch.record_count, batch.accepted_count, batch.rejected_count) == (9, 3, 6)
        sealed = bytes(batch.raw_sealed)
        for person in (ALICE, BOB, CAROL.lower(), DAVE):
            assert person.encode() not in sealed
            assert all(person not in row and person.encode().hex() not in row for row in stored)
        raw = BatchSealer(sharing.settings.batch_key_bytes).open(batch_id, sealed)
        assert json.loads(raw) == {"records": MIXED_RECORDS}
        assert batch.raw_size == len(raw)

    async def test_the_batch_reads_back_with_masked_outcomes(
        self, sharing: SharingService, mixed_batch: httpx.Response
    ) -> None:
        receipt = mixed_batch.json()
        response = await sharing.client.get(f"/sharing/v1/batches/{receipt['batch_id']}", scopes=["sharing:read"])
        assert response.status_code == 200, response.text
        batch = response.json()
        assert {k: batch[k] for k in ("agency", "dataset", "content_type", "submitted_by")} == {
            "agency": "civil_affairs",
            "dataset": "dibao",
            "content_type": "application/json",
            "submitted_by": "civil-affairs-system",
        }
        assert (batch["record_count"], batch["accepted_count"], batch["rejected_count"]) == (9, 3, 6)
        assert batch["next_cursor"] is None
        records = batch["records"]
        assert [r["index"] for r in records] == list(range(9))
        assert [r["outcome"] for r in records] == ["accepted", "rejected", "accepted"] + ["rejected"] * 4 + [
            "accepted",
            "rejected",
        ]
        assert [r["id_number_masked"] for r in records] == [
            mask_id_number(ALICE),
            mask_id_number(with_wrong_check(BOB)),
            mask_id_number(BOB),
            mask_id_number(with_impossible_birth_date()),
            None,
            mask_id_number(CAROL),
            mask_id_number(DAVE),
            mask_id_number(CAROL),
            None,
        ]
        assert records[0]["fact_key"] == sharing.subject(ALICE) and records[0]["fact_id"] and not records[0]["errors"]
        rejected = [{"index": r["index"], "errors": r["errors"]} for r in records if r["outcome"] == "rejected"]
        assert rejected == receipt["rejected"]
        assert all(r["fact_id"] is None for r in records if r["outcome"] == "rejected")
        for person in (ALICE, BOB, CAROL, DAVE):
            assert person not in response.text

    async def test_outcomes_page_and_filter(self, sharing: SharingService, mixed_batch: httpx.Response) -> None:
        path = f"/sharing/v1/batches/{mixed_batch.json()['batch_id']}"
        seen: list[int] = []
        cursor: str | None = None
        while True:
            query = "?outcome=rejected&limit=4" + (f"&cursor={cursor}" if cursor else "")
            page = (await sharing.client.get(path + query, scopes=["sharing:read"])).json()
            seen += [r["index"] for r in page["records"]]
            assert all(r["outcome"] == "rejected" for r in page["records"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [1, 3, 4, 5, 6, 8]
        bad_cursor = await sharing.client.get(path + "?cursor=bm90LWEtY3Vyc29y", scopes=["sharing:read"])
        assert_problem(bad_cursor, 422, "invalid-cursor")


class TestCsv:
    async def test_csv_push_validates_each_row(self, sharing: SharingService, kafka_bootstrap: str) -> None:
        erin, frank = id_number("19720202", "246"), id_number("19660606", "357")
        body = (
            "\ufeffid_number,household_no,since,until\r\n"
            f"{erin},荣昌-007,2018-07-01,\r\n"
            f"{frank},,2018-07-01,2018-06-30\r\n"
            f"{with_wrong_check(frank)},,2018-07-01\r\n"
            "\r\n"
            f"{frank},,2018-07-01,2019-06-30\r\n"
        ).encode("gb18030")
        response = await sharing.client.post(
            DIBAO_PATH, content=body, headers={"content-type": "text/csv; charset=gb18030"}, **CIVIL_AFFAIRS
        )
        assert response.status_code == 201, response.text
        receipt = response.json()
        assert (receipt["record_count"], receipt["accepted"]) == (4, 2)
        assert receipt["rejected"] == [
            {"index": 1, "errors": [{"field": "until", "message": "must not be before since"}]},
            {"index": 2, "errors": [{"field": None, "message": "the row has 3 cells; the header has 4"}]},
        ]
        messages = await facts_of_batch(sharing, kafka_bootstrap, receipt["batch_id"], 2)
        facts = sorted((m.event.payload(Fact) for m in messages), key=lambda f: f.record_index)
        assert [(f.record_index, f.subject_ref) for f in facts] == [
            (0, sharing.subject(erin)),
            (3, sharing.subject(frank)),
        ]
        assert facts[0].attributes == DibaoAttributes(household_no="荣昌-007", since=date(2018, 7, 1))
        assert facts[1].attributes == DibaoAttributes(since=date(2018, 7, 1), until=date(2019, 6, 30))
        read = await sharing.client.get(f"/sharing/v1/batches/{receipt['batch_id']}", scopes=["sharing:read"])
        assert read.json()["content_type"] == "text/csv; charset=gb18030"


class TestWhoMayPush:
    async def test_an_agency_may_not_push_another_agency_s_dataset(self, sharing: SharingService) -> None:
        before = await sharing.counts()
        response = await sharing.client.post(
            DIBAO_PATH,
            json={"records": [{"id_number": ALICE, "since": "2018-01-01"}]},
            scopes=SUBMIT,
            agency="education",
        )
        problem = assert_problem(response, 403, "agency-mismatch")
        assert (
            problem["detail"]
            == "a key of agency 'education' may push only that agency's datasets, not 'civil_affairs''s"
        )
        assert await sharing.counts() == before

    async def test_pushing_needs_the_submit_scope(self, sharing: SharingService) -> None:
        before = await sharing.counts()
        response = await sharing.client.post(
            DIBAO_PATH,
            json={"records": [{"id_number": ALICE, "since": "2018-01-01"}]},
            scopes=["sharing:read"],
            agency="civil_affairs",
        )
        assert assert_problem(response, 403, "forbidden")["required_scope"] == "sharing:submit"
        assert await sharing.counts() == before

    async def test_admin_may_push_for_any_agency(self, sharing: SharingService, kafka_bootstrap: str) -> None:
        response = await sharing.client.post(
            "/sharing/v1/agencies/statistics/datasets/labour_force/records",
            json={"records": [{"period": "2018-06", "urban_employed_total": 120345}]},
            scopes=["admin"],
            agency="hrss",
        )
        assert response.status_code == 201, response.text
        [message] = await facts_of_batch(sharing, kafka_bootstrap, response.json()["batch_id"], 1)
        fact = message.event.payload(Fact)
        assert message.key == b"2018-06" and message.event.subject is None
        assert (fact.key, fact.subject_ref) == ("2018-06", None)
        assert fact.attributes == LabourForceAttributes(period="2018-06", urban_employed_total=120345)

    async def test_unknown_agency_and_dataset_are_not_found_naming_the_known_ones(
        self, sharing: SharingService
    ) -> None:
        before = await sharing.counts()
        records = {"records": [{"id_number": ALICE, "since": "2018-01-01"}]}
        unknown_dataset = await sharing.client.post(
            "/sharing/v1/agencies/civil_affairs/datasets/pension/records", json=records, **CIVIL_AFFAIRS
        )
        problem = assert_problem(unknown_dataset, 404, "unknown-dataset")
        assert problem["known_datasets"] == ["dibao", "extreme_poverty", "veteran"]
        unknown_agency = await sharing.client.post(
            "/sharing/v1/agencies/weather/datasets/rain/records", json=records, scopes=["admin"]
        )
        assert "civil_affairs" in assert_problem(unknown_agency, 404, "unknown-agency")["known_agencies"]
        assert await sharing.counts() == before


BAD_BODIES = [
    pytest.param(b"{not json", "application/json", 400, "malformed-batch", id="not JSON"),
    pytest.param(b"", "application/json", 400, "malformed-batch", id="empty body"),
    pytest.param(b'[{"id_number": "x"}]', "application/json", 422, "invalid-batch", id="array body"),
    pytest.param(b'{"rows": []}', "application/json", 422, "invalid-batch", id="no records"),
    pytest.param(b'{"records": "x"}', "application/json", 422, "invalid-batch", id="records not a list"),
    pytest.param(b'{"records": []}', "application/json", 422, "invalid-batch", id="no record"),
    pytest.param(
        b'{"records": [' + b",".join([b"{}"] * 10_001) + b"]}",
        "application/json",
        413,
        "batch-too-large",
        id="10001 records",
    ),
    pytest.param(b"id_number,since\n", "text/csv", 422, "invalid-batch", id="CSV header only"),
    pytest.param(b"", "text/csv", 422, "invalid-batch", id="CSV empty"),
    pytest.param(b"id_number,sinse\nx,y\n", "text/csv", 422, "invalid-csv", id="CSV unknown column"),
    pytest.param(b'id_number,since\n"x,y\n', "text/csv", 400, "malformed-batch", id="CSV broken quote"),
    pytest.param(b"id_number,since\n\xff,y\n", "text/csv", 400, "malformed-batch", id="CSV not UTF-8"),
    pytest.param(b"id_number,since\nx,y\n", "text/plain", 415, "unsupported-media-type", id="plain text"),
]


@pytest.mark.parametrize(("body", "content_type", "status", "slug"), BAD_BODIES)
async def test_bad_input_is_refused_whole_and_changes_nothing(
    sharing: SharingService, body: bytes, content_type: str, status: int, slug: str
) -> None:
    before = await sharing.counts()
    response = await sharing.client.post(
        DIBAO_PATH, content=body, headers={"content-type": content_type}, **CIVIL_AFFAIRS
    )
    assert_problem(response, status, slug)
    assert await sharing.counts() == before


class TestReadingBatches:
    async def test_a_submitter_reads_its_own_agency_s_batches_only(
        self, sharing: SharingService, mixed_batch: httpx.Response
    ) -> None:
        path = f"/sharing/v1/batches/{mixed_batch.json()['batch_id']}"
        own = await sharing.client.get(path, scopes=SUBMIT, agency="civil_affairs")
        assert own.status_code == 200 and own.json()["accepted_count"] == 3
        other = await sharing.client.get(path, scopes=SUBMIT, agency="public_security")
        assert_problem(other, 404, "batch-not-found")
        unscoped = await sharing.client.get(path, scopes=["registry:read"], agency="civil_affairs")
        assert assert_problem(unscoped, 403, "forbidden")["required_scope"] == "sharing:read"

    async def test_an_unknown_batch_is_not_found(self, sharing: SharingService) -> None:
        response = await sharing.client.get(f"/sharing/v1/batches/{uuid.uuid4()}", scopes=["sharing:read"])
        assert_problem(response, 404, "batch-not-found")
        malformed = await sharing.client.get("/sharing/v1/batches/not-a-uuid", scopes=["sharing:read"])
        assert_problem(malformed, 422, "validation-error")


async def test_a_repeated_push_with_the_same_idempotency_key_is_one_batch(sharing: SharingService) -> None:
    body = {"records": [{"id_number": DAVE, "since": "2018-09-01"}]}
    headers = {"idempotency-key": f"dibao-{uuid.uuid4()}"}
    first = await sharing.client.post(DIBAO_PATH, json=body, headers=headers, **CIVIL_AFFAIRS)
    before = await sharing.counts()
    again = await sharing.client.post(DIBAO_PATH, json=body, headers=headers, **CIVIL_AFFAIRS)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert await sharing.counts() == before


async def test_the_batch_limits_come_from_settings(sharing: SharingService) -> None:
    settings = sharing.settings.model_copy(
        update={"max_batch_records": 2, "max_batch_bytes": 200, "kafka_consumer_group_prefix": "t-small."}
    )
    async with running(create_app(settings)) as small:
        before = await sharing.counts()
        one = {"id_number": ALICE, "since": "2018-01-01"}
        too_many = await small.post(DIBAO_PATH, json={"records": [one, one, one]}, **CIVIL_AFFAIRS)
        assert assert_problem(too_many, 413, "batch-too-large")["max_records"] == 2
        too_big = await small.post(
            DIBAO_PATH, json={"records": [{**one, "household_no": "H" * 64}] * 2}, **CIVIL_AFFAIRS
        )
        assert assert_problem(too_big, 413, "batch-too-large")["max_bytes"] == 200
        assert await sharing.counts() == before
        at_limit = await small.post(DIBAO_PATH, json={"records": [one, one]}, **CIVIL_AFFAIRS)
        assert at_limit.status_code == 201 and at_limit.json()["accepted"] == 2
        await sharing.wait_until_relayed()  # see wait_until_relayed


async def test_the_openapi_document_shows_both_push_formats(sharing: SharingService) -> None:
    document = (await sharing.client.http.get("/openapi.json")).json()
    push = document["paths"]["/sharing/v1/agencies/{agency}/datasets/{dataset}/records"]["post"]
    assert set(push["requestBody"]["content"]) == {"application/json", "text/csv"}
    assert "201" in push["responses"]
    # The agency codes are listed, though an unknown one is answered 404 `unknown-agency`, not 422.
    [agency] = [p for p in push["parameters"] if p["name"] == "agency"]
    assert agency["schema"]["enum"] == list(Agency)


async def test_the_embedded_sqlite_default_keeps_batches_too(kafka_bootstrap: str, tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'sharing.db'}"
    await asyncio.to_thread(upgrade, "sharing", url)
    settings = SharingSettings(
        database_url=url,
        kafka_bootstrap_servers=kafka_bootstrap,
        log_json=False,
        kafka_consumer_group_prefix=f"t{uuid.uuid4().hex[:8]}.",
        statistics_close_grace_s=NEVER_S,
    )
    engine = create_async_engine(url)
    try:
        async with running(create_app(settings)) as client:
            embedded = SharingService(client, engine, settings)
            records = [{"id_number": ALICE, "since": "2018-04-01"}, {"id_number": ALICE, "since": "2018-04-31"}]
            pushed = await client.post(DIBAO_PATH, json={"records": records}, **CIVIL_AFFAIRS)
            assert pushed.status_code == 201, pushed.text
            assert (pushed.json()["accepted"], [r["index"] for r in pushed.json()["rejected"]]) == (1, [1])
            read = await client.get(pushed.headers["location"], scopes=["sharing:read"])
            assert [(r["outcome"], r["errors"]) for r in read.json()["records"]] == [
                ("accepted", []),
                ("rejected", [{"field": "since", "message": "is not a calendar date"}]),
            ]
            await embedded.wait_until_relayed()
            assert await embedded.counts() == {"sharing_batch": 1, "sharing_record": 2, "outbox_message": 1}
    finally:
        await engine.dispose()


async def test_a_push_of_more_records_than_the_bulk_threshold_goes_in_the_bulk_lane(
    kafka_bootstrap: str, databases: PostgresDatabases
) -> None:
    async with sharing_service(databases, kafka_bootstrap, bulk_push_records=2) as service:
        small = [{"id_number": id_number("19700101", f"{n:03d}"), "since": "2024-01-01"} for n in range(2)]
        # Three records, one rejected: the push is larger than the threshold, its two facts are bulk.
        mixed = [
            *({"id_number": id_number("19710101", f"{n:03d}"), "since": "2024-01-01"} for n in range(2)),
            {"id_number": DAVE},
        ]
        large = [{"id_number": id_number("19720101", f"{n:03d}"), "since": "2024-01-01"} for n in range(3)]
        for records in (small, mixed, large):
            pushed = await service.client.post(DIBAO_PATH, json={"records": records}, **CIVIL_AFFAIRS)
            assert pushed.status_code == 201, pushed.text
        await service.wait_until_relayed()  # the bulk lane goes too (no group paces it here)
        async with service.engine.connect() as conn:
            lanes = (await conn.execute(sa.text("SELECT bulk, count(*) FROM outbox_message GROUP BY bulk"))).all()
        assert dict(lanes) == {False: 2, True: 5}


async def test_a_push_larger_than_a_chunk_keeps_every_outcome_fact_and_count(
    sharing: SharingService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A push is checked and written a chunk at a time; the chunks add up to the whole push."""
    monkeypatch.setattr("services.sharing.batches.service.CHUNK_RECORDS", 4)
    records: list[Any] = [{"id_number": id_number("19730101", f"{n:03d}"), "since": "2024-01-01"} for n in range(10)]
    records[5] = {"id_number": records[5]["id_number"]}  # no since: rejected, in the second chunk
    before = await sharing.counts()
    pushed = await sharing.client.post(DIBAO_PATH, json={"records": records}, **CIVIL_AFFAIRS)
    assert pushed.status_code == 201, pushed.text
    receipt = pushed.json()
    assert (receipt["record_count"], receipt["accepted"]) == (10, 9)
    assert [r["index"] for r in receipt["rejected"]] == [5]
    read = await sharing.client.get(f"{pushed.headers['location']}?limit=100", scopes=["sharing:read"])
    assert read.status_code == 200, read.text
    body = read.json()
    assert (body["record_count"], body["accepted_count"], body["rejected_count"]) == (10, 9, 1)
    assert [r["index"] for r in body["records"]] == list(range(10))
    after = await sharing.counts()
    assert after["sharing_record"] - before["sharing_record"] == 10
    assert after["outbox_message"] - before["outbox_message"] == 9
    messages = await facts_of_batch(sharing, sharing.settings.kafka_bootstrap_servers, receipt["batch_id"], 9)
    assert sorted(m.event.data["record_index"] for m in messages) == [n for n in range(10) if n != 5]
