"""Each of the plan's five subsidy programmes walked to `paid` through the gateway, against the four
services as processes, and each one's main refusal; the public notice of each grant."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest

from services.kit.clock import SYSTEM_CLOCK
from tests.e2e.agencies import Agency, client, hired_for_a_year
from tests.e2e.conftest import RunningSystem
from tests.registry.people import id_number
from tests.subsidy.scenario import credit_code
from tests.support import eventually

pytestmark = pytest.mark.e2e

YEAR = SYSTEM_CLOCK.today().year
_birthdays = itertools.count(1)


@dataclass
class Bureau:
    """The agency systems of one test."""

    desk: Agency  # the bureau's front desk: registers people, applies for them
    reviewer: Agency
    treasury: Agency
    civil: Agency
    market: Agency

    async def person(self, name: str, **fields: Any) -> tuple[str, str]:
        """Register a person; returns (person_id, id_number)."""
        n = next(_birthdays)
        number = id_number(date(1985 + n % 15, 1 + n % 12, 1 + n % 28), female=n % 2 == 0)
        body = {"id_number": number, "name": name, "hukou_type": "urban", "town": "昌元街道", **fields}
        response = await self.desk.call("POST", "/registry/v1/persons", body)
        assert response.status_code == 201, response.text
        return response.json()["person_id"], number

    async def unemployed(self, person_id: str, on: str) -> None:
        response = await self.desk.call(
            "POST", f"/registry/v1/persons/{person_id}/unemployment-registrations", {"registered_on": on}
        )
        assert response.status_code == 201, response.text

    async def dibao(self, *numbers: str) -> None:
        response = await self.civil.call(
            "POST",
            "/sharing/v1/agencies/civil_affairs/datasets/dibao/records",
            {"records": [{"id_number": n, "since": "2023-01-01"} for n in numbers]},
        )
        assert response.status_code == 201 and response.json()["accepted"] == len(numbers), response.text

    async def employ(self, person_id: str, employer: str, started_on: str, kind: str = "employee") -> str:
        body = {"employer_credit_code": employer, "employer_name": "荣昌夏布坊", "started_on": started_on, "kind": kind}
        response = await self.desk.call("POST", f"/registry/v1/persons/{person_id}/employments", body)
        assert response.status_code == 201, response.text
        employment_id: str = response.json()["employment_id"]
        return employment_id

    async def contribute(self, employment_id: str, months: list[str], insurances: list[str]) -> None:
        response = await self.desk.call(
            "POST",
            f"/registry/v1/employments/{employment_id}/contributions",
            {"months": months, "insurances": insurances},
        )
        assert response.status_code == 200, response.text

    async def holds(self, person_id: str, category: str) -> None:
        """Until the subsidy service's projection shows the category."""

        async def projected() -> bool:
            view = await self.desk.call("GET", f"/subsidy/v1/beneficiaries/{person_id}")
            return view.status_code == 200 and category in {c["category"] for c in view.json()["difficulty_categories"]}

        await eventually(projected, within=30)

    async def apply(self, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.desk.call("POST", "/subsidy/v1/applications", body)
        assert response.status_code == 201, response.text
        application: dict[str, Any] = response.json()
        if application["status"] == "submitted":  # judged in the background once the facts are in

            async def judged() -> bool:
                nonlocal application
                application = (
                    await self.desk.call("GET", f"/subsidy/v1/applications/{application['application_id']}")
                ).json()
                return application["status"] != "submitted"

            await eventually(judged, within=30)
        return application

    async def pay(self, application: dict[str, Any]) -> dict[str, Any]:
        """Approve (four-eyes), settle; returns the paid application."""
        assert application["status"] == "eligible", application["checks"]
        decided = await self.reviewer.call(
            "POST",
            f"/subsidy/v1/applications/{application['application_id']}/decision",
            {"decision": "approve", "note": "核实无误"},
        )
        assert decided.status_code == 200, decided.text
        assert decided.json()["status"] == "approved"
        payment = decided.json()["payment"]
        settled = await self.treasury.call(
            "POST",
            f"/subsidy/v1/payments/{payment['payment_id']}/settlement",
            {"outcome": "settled", "bank_reference": "RC-" + payment["payment_id"][:8]},
        )
        assert settled.status_code == 200, settled.text
        paid: dict[str, Any] = (
            await self.desk.call("GET", f"/subsidy/v1/applications/{application['application_id']}")
        ).json()
        assert paid["status"] == "paid"
        return paid

    async def notice_of(self, application: dict[str, Any]) -> dict[str, Any]:
        """The public notice of an approved application (listed today)."""
        cursor: str | None = None
        while True:
            page = (
                await self.desk.call(
                    "GET",
                    "/subsidy/v1/notices",
                    params={
                        "programme": application["programme"],
                        "limit": 200,
                        **({"cursor": cursor} if cursor else {}),
                    },
                )
            ).json()
            for notice in page["items"]:
                if notice["application_id"] == application["application_id"]:
                    assert notice["amount"] == application["amount"]
                    assert set(notice) == {
                        "notice_id",
                        "application_id",
                        "programme",
                        "name_masked",
                        "town",
                        "payee_name",
                        "amount",
                        "amount_fen",
                        "approved_on",
                        "until",
                    }
                    return dict(notice)
            cursor = page["next_cursor"]
            assert cursor is not None, f"no notice of application {application['application_id']}"


@pytest.fixture
async def bureau(system: RunningSystem, http: httpx.AsyncClient) -> Bureau:
    admin = Agency(http, system, system.admin_key)
    for programme in ("hiring_key_groups", "startup_one_time", "social_insurance", "skills_upgrade", "job_seeking"):
        budget = await admin.call("PUT", f"/subsidy/v1/budgets/{programme}/{YEAR}", {"amount": "10000000.00"})
        assert budget.status_code == 200, budget.text
    return Bureau(
        desk=await client(http, system, "hrss", "registry:read", "registry:write", "subsidy:apply", "subsidy:read"),
        reviewer=await client(http, system, "hrss", "subsidy:review", "subsidy:read"),
        treasury=await client(http, system, "hrss", "subsidy:settle", "subsidy:read"),
        civil=await client(http, system, "civil_affairs", "sharing:submit"),
        market=await client(http, system, "market_supervision", "sharing:submit"),
    )


def failed(application: dict[str, Any]) -> list[str]:
    return [c["rule"] for c in application["checks"] if not c["passed"]]


def months(first: tuple[int, int], count: int) -> list[str]:
    year, month = first
    return [f"{year + (month - 1 + i) // 12:04d}-{(month - 1 + i) % 12 + 1:02d}" for i in range(count)]


async def test_hiring_key_groups_is_paid_to_the_employer_and_refused_outside_the_key_groups(bureau: Bureau) -> None:
    person_id, employment_id, employer = await hired_for_a_year(bureau.desk, bureau.civil)
    paid = await bureau.pay(
        await bureau.apply(
            {
                "programme": "hiring_key_groups",
                "beneficiary_person_id": person_id,
                "applicant": {"kind": "employer", "credit_code": employer},
                "employment_id": employment_id,
            }
        )
    )
    assert paid["amount"] == "6000.00" and paid["payee"]["kind"] == "employer"
    notice = await bureau.notice_of(paid)
    assert notice["payee_name"] == "荣昌陶器厂" and notice["name_masked"] == "陈*"
    assert notice["until"] > notice["approved_on"]

    # A person of none of the five key groups.
    other, _ = await bureau.person("黄志强")
    await bureau.unemployed(other, "2024-09-01")
    employer = credit_code()
    job = await bureau.employ(other, employer, "2024-10-01")
    await bureau.contribute(job, months((2024, 10), 12), ["pension", "medical"])
    refused = await bureau.apply(
        {
            "programme": "hiring_key_groups",
            "beneficiary_person_id": other,
            "applicant": {"kind": "employer", "credit_code": employer},
            "employment_id": job,
        }
    )
    assert refused["status"] == "ineligible" and failed(refused) == ["key_group"]


async def test_startup_one_time_is_paid_to_a_founder_of_a_first_business_with_three_employees(bureau: Bureau) -> None:
    founder, number = await bureau.person("刘小梅")
    await bureau.unemployed(founder, "2025-05-01")
    await bureau.dibao(number)
    business = credit_code()
    pushed = await bureau.market.call(
        "POST",
        "/sharing/v1/agencies/market_supervision/datasets/business/records",
        {
            "records": [
                {
                    "credit_code": business,
                    "name": "荣昌刘记夏布坊",
                    "legal_rep_id_number": number,
                    "established_on": "2025-06-01",
                }
            ]
        },
    )
    assert pushed.status_code == 201 and pushed.json()["accepted"] == 1, pushed.text
    own = await bureau.employ(founder, business, "2025-06-01", kind="self_employed")
    await bureau.contribute(own, months((2025, 6), 12), ["pension"])
    for name in ("王一", "王二"):
        staff, _ = await bureau.person(name)
        await bureau.employ(staff, business, "2025-08-01")
    await bureau.holds(founder, "low_income_family")
    body = {
        "programme": "startup_one_time",
        "beneficiary_person_id": founder,
        "applicant": {"kind": "person", "person_id": founder},
        "business_credit_code": business,
    }

    # Two employees: 带动就业3人以上 is not met.
    refused = await bureau.apply(body)
    assert refused["status"] == "ineligible" and failed(refused) == ["employs_3"]

    # A third is hired: the open application is judged again, and becomes eligible.
    third, _ = await bureau.person("王三")
    await bureau.employ(third, business, "2025-09-01")

    async def eligible() -> bool:
        current = (await bureau.desk.call("GET", f"/subsidy/v1/applications/{refused['application_id']}")).json()
        return bool(current["status"] == "eligible")

    await eventually(eligible, within=30)
    application = (await bureau.desk.call("GET", f"/subsidy/v1/applications/{refused['application_id']}")).json()
    paid = await bureau.pay(application)
    assert paid["amount"] == "5000.00"
    assert paid["payee"] == {"kind": "person", "name": "刘*梅", "credit_code": None, "person_id": founder}
    assert (await bureau.notice_of(paid))["payee_name"] == "刘*梅"


async def test_social_insurance_pays_each_month_once_with_work_injury_and_maternity_for_a_dibao_member(
    bureau: Bureau,
) -> None:
    person_id, number = await bureau.person("赵丽")
    await bureau.dibao(number)
    job = await bureau.employ(person_id, credit_code(), "2026-01-01", kind="flexible")
    five = ["pension", "medical", "unemployment", "work_injury", "maternity"]
    await bureau.contribute(job, months((2026, 1), 3), five)
    await bureau.holds(person_id, "low_income_family")
    body = {
        "programme": "social_insurance",
        "beneficiary_person_id": person_id,
        "applicant": {"kind": "person", "person_id": person_id},
        "employment_id": job,
        "months": ["2026-01", "2026-02", "2026-03"],
    }
    paid = await bureau.pay(await bureau.apply(body))
    # 3 months x (500 + 200 + 25 + 10 + 10): the plan extends it to work injury and maternity for dibao members.
    assert paid["amount"] == "2235.00"
    assert paid["payee"]["kind"] == "person"

    # The same months again: each month is paid at most once per beneficiary.
    again = await bureau.apply({**body, "months": ["2026-02", "2026-03"]})
    assert again["status"] == "ineligible" and failed(again) == ["months_not_paid_before"]


async def test_skills_upgrade_pays_a_certificate_of_this_year_by_its_level(bureau: Bureau) -> None:
    person_id, _ = await bureau.person("孙强")
    job = await bureau.employ(person_id, credit_code(), "2023-01-01")
    await bureau.contribute(job, months((2023, 1), 36), ["pension", "unemployment"])
    trainings = []
    for completed_on in (f"{YEAR - 1}-11-20", f"{YEAR}-06-15"):
        trained = await bureau.desk.call(
            "POST",
            f"/registry/v1/persons/{person_id}/trainings",
            {
                "kind": "vocational",
                "completed_on": completed_on,
                "certificate_level": "intermediate",
                "provider": "荣昌职教中心",
            },
        )
        assert trained.status_code == 201, trained.text
        trainings.append(trained.json()["training_id"])

    def body(training_id: str) -> dict[str, Any]:
        return {
            "programme": "skills_upgrade",
            "beneficiary_person_id": person_id,
            "applicant": {"kind": "person", "person_id": person_id},
            "training_id": training_id,
        }

    last_year = await bureau.apply(body(trainings[0]))
    assert last_year["status"] == "ineligible" and failed(last_year) == ["certificate_this_year"]
    paid = await bureau.pay(await bureau.apply(body(trainings[1])))
    assert paid["amount"] == "1500.00"


async def test_job_seeking_pays_a_graduating_student_of_a_dibao_family_once(bureau: Bureau) -> None:
    graduate, number = await bureau.person("周敏", education="bachelor", graduation_date=f"{YEAR}-07-01")
    await bureau.dibao(number)
    await bureau.holds(graduate, "low_income_family")
    body = {
        "programme": "job_seeking",
        "beneficiary_person_id": graduate,
        "applicant": {"kind": "person", "person_id": graduate},
    }
    paid = await bureau.pay(await bureau.apply(body))
    assert paid["amount"] == "1000.00"

    # A graduate of a family none of the four kinds: refused.
    other, _ = await bureau.person("吴昊", education="bachelor", graduation_date=f"{YEAR}-07-01")
    refused = await bureau.apply(
        {**body, "beneficiary_person_id": other, "applicant": {"kind": "person", "person_id": other}}
    )
    assert refused["status"] == "ineligible" and failed(refused) == ["poor_family"]
