"""The datasets declared after the first four agencies (education, agriculture, market supervision,
the bureau's own list), pushed through the running sharing service against real PostgreSQL and a
real broker: accepted records arrive on sharing.fact.v1 with their typed attributes, rejected ones
come back with their errors, and a business names its legal representative only by subject_ref."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
import pytest_asyncio

from contracts.facts import (
    BusinessAttributes,
    CapacityReductionAttributes,
    FactAttributes,
    GraduateAttributes,
    RegisteredPoorAttributes,
)
from contracts.sharing import FACT_RECORDED
from contracts.vocabulary import EducationLevel
from services.kit.identifiers import mask_id_number
from tests.sharing.factories import credit_code, id_number, with_wrong_check, with_wrong_credit_check
from tests.sharing.harness import SharingService, facts_of_batch, sharing_service
from tests.support import PostgresDatabases

pytestmark = pytest.mark.integration

GRACE = id_number("19960412", "246")
HENRY = id_number("19701111", "357")
FACTORY = credit_code("MA5U3P7X1")
MILL = credit_code("MA5U0K2Q7")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def sharing(databases: PostgresDatabases, kafka_bootstrap: str) -> AsyncIterator[SharingService]:
    async with sharing_service(databases, kafka_bootstrap) as service:
        yield service


@dataclass(frozen=True)
class Case:
    agency: str
    dataset: str
    valid: dict[str, Any]
    attributes: FactAttributes
    valid_from: date | None
    valid_until: date | None
    invalid: dict[str, Any]
    errors: list[dict[str, Any]]

    @property
    def path(self) -> str:
        return f"/sharing/v1/agencies/{self.agency}/datasets/{self.dataset}/records"


CASES = [
    Case(
        "education",
        "graduate",
        {"id_number": GRACE, "school": "重庆文理学院", "level": "junior_college", "graduated_on": "2018-06-30"},
        GraduateAttributes(school="重庆文理学院", level=EducationLevel.junior_college, graduated_on=date(2018, 6, 30)),
        date(2018, 6, 30),
        None,
        {"id_number": GRACE, "school": "重庆文理学院", "level": "college", "graduated_on": "2018-06-31"},
        [
            {
                "field": "level",
                "message": "Input should be 'junior_high', 'senior_high', 'vocational', 'junior_college', "
                "'bachelor', 'master' or 'doctor'",
            },
            {"field": "graduated_on", "message": "is not a calendar date"},
        ],
    ),
    Case(
        "agriculture",
        "registered_poor",
        {"id_number": HENRY, "household_no": "P-500153-17", "since": "2015-10-01", "exited_on": "2019-12-31"},
        RegisteredPoorAttributes(household_no="P-500153-17", since=date(2015, 10, 1), exited_on=date(2019, 12, 31)),
        date(2015, 10, 1),
        date(2019, 12, 31),
        {"id_number": with_wrong_check(HENRY), "since": "2015-10-01", "exited_on": "2014-01-01"},
        [
            {"field": "id_number", "message": "the check character of the id number is wrong"},
            {"field": "exited_on", "message": "must not be before since"},
        ],
    ),
    Case(
        "hrss",
        "capacity_reduction",
        {"id_number": HENRY, "employer_credit_code": MILL.lower(), "since": "2016-07-01"},
        CapacityReductionAttributes(employer_credit_code=MILL, since=date(2016, 7, 1)),
        date(2016, 7, 1),
        None,
        {"id_number": HENRY, "employer_credit_code": MILL[:17], "since": "2016-07-01", "until": "2016-06-01"},
        [
            {"field": "employer_credit_code", "message": "a unified social credit code has 18 characters, not 17"},
            {"field": "until", "message": "must not be before since"},
        ],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.agency}/{case.dataset}")
async def test_a_pushed_record_becomes_a_typed_fact_and_a_bad_one_comes_back_with_its_errors(
    sharing: SharingService, kafka_bootstrap: str, case: Case
) -> None:
    response = await sharing.client.post(
        case.path,
        json={"records": [case.invalid, case.valid]},
        scopes=["sharing:submit"],
        agency=case.agency,
        client_id=f"{case.agency}-system",
    )
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert (receipt["agency"], receipt["dataset"], receipt["accepted"]) == (case.agency, case.dataset, 1)
    assert receipt["rejected"] == [{"index": 0, "errors": case.errors}]
    [message] = await facts_of_batch(sharing, kafka_bootstrap, receipt["batch_id"], 1)
    fact = message.fact
    ref = sharing.subject(case.valid["id_number"])
    assert (message.key, message.event.subject, message.event.type) == (ref.encode(), ref, FACT_RECORDED)
    assert (fact.record_index, fact.subject_ref, fact.key) == (1, ref, ref)
    assert fact.attributes == case.attributes
    assert message.event.data["attributes"]["dataset"] == f"{case.agency}/{case.dataset}"
    assert (fact.valid_from, fact.valid_until) == (case.valid_from, case.valid_until)
    assert case.valid["id_number"].encode() not in message.value


class TestBusiness:
    PATH = "/sharing/v1/agencies/market_supervision/datasets/business/records"
    MARKET_SUPERVISION = {"scopes": ["sharing:submit"], "agency": "market_supervision", "client_id": "scjg"}

    async def test_a_business_is_keyed_by_credit_code_and_its_legal_representative_never_travels_raw(
        self, sharing: SharingService, kafka_bootstrap: str
    ) -> None:
        body = (
            "credit_code,name,legal_rep_id_number,established_on,deregistered_on\n"
            f"{FACTORY},荣昌区夏布制品有限公司,{GRACE},2018-05-20,\n"
            f"{with_wrong_credit_check(MILL)},荣昌陶器厂,{with_wrong_check(HENRY)},2017-01-01,2016-12-31\n"
            f"{MILL},荣昌陶器厂,{HENRY},2017-01-01,2020-12-31\n"
        ).encode()
        response = await sharing.client.post(
            self.PATH, content=body, headers={"content-type": "text/csv"}, **self.MARKET_SUPERVISION
        )
        assert response.status_code == 201, response.text
        receipt = response.json()
        assert (receipt["record_count"], receipt["accepted"]) == (3, 2)
        assert receipt["rejected"] == [
            {
                "index": 1,
                "errors": [
                    {
                        "field": "credit_code",
                        "message": "the check character of the unified social credit code is wrong",
                    },
                    {"field": "legal_rep_id_number", "message": "the check character of the id number is wrong"},
                    {"field": "deregistered_on", "message": "must not be before established_on"},
                ],
            }
        ]

        messages = await facts_of_batch(sharing, kafka_bootstrap, receipt["batch_id"], 2)
        by_index = {m.fact.record_index: m for m in messages}
        assert sorted(by_index) == [0, 2]
        factory, mill = by_index[0], by_index[2]
        assert factory.key == FACTORY.encode() and factory.fact.key == FACTORY
        assert factory.event.subject == factory.fact.subject_ref == sharing.subject(GRACE)
        assert factory.fact.attributes == BusinessAttributes(
            credit_code=FACTORY, name="荣昌区夏布制品有限公司", established_on=date(2018, 5, 20)
        )
        assert (factory.fact.valid_from, factory.fact.valid_until) == (date(2018, 5, 20), None)
        assert mill.fact.subject_ref == sharing.subject(HENRY)
        assert (mill.fact.valid_from, mill.fact.valid_until) == (date(2017, 1, 1), date(2020, 12, 31))
        wire = b"".join(m.key + m.value + b"".join(v for _, v in m.headers) for m in messages)
        for person in (GRACE, HENRY):
            assert person.encode() not in wire and person[6:14].encode() not in wire
        assert b"legal_rep" not in wire

        # An operator finds each record by the legal representative's masked id number, valid or not.
        read = await sharing.client.get(f"/sharing/v1/batches/{receipt['batch_id']}", **self.MARKET_SUPERVISION)
        assert read.status_code == 200, read.text
        records = read.json()["records"]
        assert [(r["outcome"], r["id_number_masked"], r["fact_key"]) for r in records] == [
            ("accepted", mask_id_number(GRACE), FACTORY),
            ("rejected", mask_id_number(with_wrong_check(HENRY)), None),
            ("accepted", mask_id_number(HENRY), MILL),
        ]
        for person in (GRACE, HENRY):
            assert person not in read.text

    async def test_a_newer_record_of_the_same_business_has_the_same_key(
        self, sharing: SharingService, kafka_bootstrap: str
    ) -> None:
        record = {"credit_code": FACTORY, "name": "荣昌区夏布制品有限公司", "legal_rep_id_number": GRACE}
        first = await sharing.client.post(
            self.PATH, json={"records": [{**record, "established_on": "2018-05-20"}]}, **self.MARKET_SUPERVISION
        )
        closing = await sharing.client.post(
            self.PATH,
            json={"records": [{**record, "established_on": "2018-05-20", "deregistered_on": "2021-03-01"}]},
            **self.MARKET_SUPERVISION,
        )
        [before] = await facts_of_batch(sharing, kafka_bootstrap, first.json()["batch_id"], 1)
        [after] = await facts_of_batch(sharing, kafka_bootstrap, closing.json()["batch_id"], 1)
        assert before.key == after.key == FACTORY.encode()
        assert after.fact.valid_until == date(2021, 3, 1)
        assert before.fact.fact_id != after.fact.fact_id
