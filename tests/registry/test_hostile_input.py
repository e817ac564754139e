"""Hostile input to the registry, against real PostgreSQL: every request below is answered with a
4xx problem (never a 500, never a redirect) and changes nothing."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from services.kit.errors import PROBLEM_JSON
from tests.kit.hostile import (
    HIDDEN,
    assert_refused,
    forged_cursor,
    hostile_text,
    huge_integers,
    json_body,
    junk,
    query,
)
from tests.registry.people import employment_body, id_number
from tests.support import ServiceClient

pytestmark = pytest.mark.integration

PERSONS = "/registry/v1/persons"
TABLES = (
    "registry_person",
    "registry_unemployment_registration",
    "registry_employment",
    "registry_contribution_month",
    "outbox_message",
)
JSON = {"content-type": "application/json"}


async def counts(registry: ServiceClient) -> dict[str, int]:
    async with registry.app.state.db.engine.connect() as conn:  # type: ignore[attr-defined]
        return {t: int((await conn.execute(sa.text(f"SELECT count(*) FROM {t}"))).scalar_one()) for t in TABLES}


def person_body(**changes: Any) -> dict[str, Any]:
    return {"id_number": id_number(), "name": "刘晓梅", "hukou_type": "rural", "town": "昌元街道", **changes}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def employment(registry: ServiceClient) -> dict[str, str]:
    """A person with a running employment, whose contribution months the tests try to spoil."""
    person = await registry.post(PERSONS, json=person_body())
    assert person.status_code == 201, person.text
    person_id = person.json()["person_id"]
    created = await registry.post(f"{PERSONS}/{person_id}/employments", json=employment_body())
    assert created.status_code == 201, created.text
    return {"person_id": person_id, "employment_id": created.json()["employment_id"]}


async def refused_and_unchanged(registry: ServiceClient, method: str, path: str, body: Any = None) -> dict[str, Any]:
    before = await counts(registry)
    content = None if body is None else json_body(body)
    response = await registry.request(method, path, content=content, headers=JSON if content else None)
    problem = assert_refused(response)
    assert "location" not in response.headers
    assert await counts(registry) == before
    return problem


class TestContributionMonths:
    @pytest.mark.parametrize(
        "month",
        ["2025-01\n", "2025-01\r\n", "２０２５-01", "٢٠٢٥-01", "2025-1", "2025-13", "2025-01\x00", "2025-01\ud800"],
    )
    async def test_a_month_that_is_not_exactly_yyyy_mm_is_422_and_records_nothing(
        self, registry: ServiceClient, employment: dict[str, str], month: str
    ) -> None:
        path = f"/registry/v1/employments/{employment['employment_id']}/contributions"
        body = {"months": ["2025-02", month], "insurances": ["pension"]}
        problem = await refused_and_unchanged(registry, "POST", path, body)
        assert problem["status"] == 422
        assert problem["errors"][0]["location"] == "body.months.1"
        assert "YYYY-MM" in problem["errors"][0]["message"]

    async def test_a_proper_month_is_still_recorded(self, registry: ServiceClient, employment: dict[str, str]) -> None:
        path = f"/registry/v1/employments/{employment['employment_id']}/contributions"
        response = await registry.post(path, json={"months": ["2025-01"], "insurances": ["pension"]})
        assert response.status_code == 200, response.text
        assert "2025-01" in response.json()["recorded"] + response.json()["already_recorded"]


class TestNumbersAreNumbers:
    @pytest.mark.parametrize("months", [True, False, "36", 36.0, 2**63, 10**30], ids=repr)
    async def test_contract_months_must_be_a_json_integer_in_range(
        self, registry: ServiceClient, employment: dict[str, str], months: Any
    ) -> None:
        path = f"{PERSONS}/{employment['person_id']}/employments"
        problem = await refused_and_unchanged(registry, "POST", path, employment_body(contract_months=months))
        assert problem["errors"][0]["location"] == "body.contract_months"


class TestNames:
    @pytest.mark.parametrize("hidden", HIDDEN, ids=lambda c: f"U+{ord(c):04X}")
    async def test_a_name_with_a_control_format_separator_or_surrogate_character_is_422(
        self, registry: ServiceClient, hidden: str
    ) -> None:
        problem = await refused_and_unchanged(registry, "POST", PERSONS, person_body(name=f"刘晓{hidden}梅"))
        assert problem["status"] == 422
        assert problem["errors"][0]["location"] == "body.name"

    @pytest.mark.parametrize("name", ["刘晓梅", "阿依古丽·买买提", "次仁・多吉", "王\U000e0100芳"])
    async def test_ordinary_names_are_registered(self, registry: ServiceClient, name: str) -> None:
        response = await registry.post(PERSONS, json=person_body(name=name))
        assert response.status_code == 201, response.text
        assert response.json()["name"] == name

    async def test_an_employer_name_and_an_end_reason_refuse_direction_overrides_too(
        self, registry: ServiceClient, employment: dict[str, str]
    ) -> None:
        path = f"{PERSONS}/{employment['person_id']}/employments"
        await refused_and_unchanged(registry, "POST", path, employment_body(employer_name="荣昌\u202e司公限有"))
        end = f"/registry/v1/employments/{employment['employment_id']}/end"
        await refused_and_unchanged(registry, "POST", end, {"ended_on": "2025-03-01", "reason": "resigned\u2028"})


class TestMalformedJson:
    @pytest.mark.parametrize(
        "body",
        [
            b"[" * 100_000,  # nested too deeply for any parser
            b'{"id_number": ' + b"9" * 5000 + b"}",  # an integer literal beyond Python's digit limit
            b"\xff\xfe{}",  # not UTF-8
            b'{"name": "\\ud800\\udc00\\ud800"}',  # a pair, then a lone surrogate
            b'"just a string"',
        ],
        ids=["deep", "long integer", "not UTF-8", "surrogates", "string"],
    )
    async def test_a_body_that_is_no_usable_json_is_a_4xx_problem(self, registry: ServiceClient, body: bytes) -> None:
        before = await counts(registry)
        response = await registry.request("POST", PERSONS, content=body, headers=JSON)
        assert_refused(response)
        assert await counts(registry) == before


class TestNoRedirects:
    @pytest.mark.parametrize("method", ["GET", "POST"])
    async def test_a_trailing_slash_is_a_404_problem_not_a_redirect(
        self, registry: ServiceClient, employment: dict[str, str], method: str
    ) -> None:
        for path in (f"{PERSONS}/", f"{PERSONS}/{employment['person_id']}/", "/registry/v1/employments/x/"):
            problem = await refused_and_unchanged(registry, method, path, person_body() if method == "POST" else None)
            assert problem["status"] == 404


class TestCursorsAndQueries:
    @pytest.mark.parametrize(
        "position",
        [
            {"after": f"{uuid.UUID(int=1)}\x00"},
            {"after": "\ud800"},
            {"after": 2**63},
            {"after": True},
            {"after": float("nan")},
            {"after": [str(uuid.UUID(int=1))]},
            {"page": 2},
        ],
        ids=repr,
    )
    async def test_a_forged_cursor_is_422(self, registry: ServiceClient, position: dict[str, Any]) -> None:
        problem = await refused_and_unchanged(registry, "GET", f"{PERSONS}?cursor={forged_cursor(position)}")
        assert problem["type"].endswith("invalid-cursor")

    @pytest.mark.parametrize(
        "params",
        [{"id_number": "50015319880315002\x00"}, {"id_number": "\u202e2200513088915100"}, {"limit": str(2**64)}],
        ids=repr,
    )
    async def test_a_hostile_filter_is_422(self, registry: ServiceClient, params: dict[str, str]) -> None:
        assert (await refused_and_unchanged(registry, "GET", f"{PERSONS}?{query(**params)}"))["status"] == 422


# Hypothesis: one field of an otherwise valid body spoiled, or an unknown member added.
PERSON_FIELDS = ["id_number", "name", "phone", "hukou_type", "town", "education", "graduation_date"]
EMPLOYMENT_FIELDS = ["employer_credit_code", "employer_name", "started_on", "contract_months", "kind"]


@settings(max_examples=40)
@given(field=st.sampled_from(PERSON_FIELDS) | hostile_text, value=junk)
async def test_any_spoiled_registration_is_refused_and_registers_nobody(
    registry: ServiceClient, field: str, value: Any
) -> None:
    await refused_and_unchanged(registry, "POST", PERSONS, {**person_body(phone="13800000000"), field: value})


@settings(max_examples=40)
@given(
    target=st.sampled_from(["employment", "contributions", "end", "unemployment"]),
    field=st.integers(0, 4) | hostile_text,
    value=junk,
)
async def test_any_spoiled_employment_request_is_refused_and_changes_nothing(
    registry: ServiceClient, employment: dict[str, str], target: str, field: int | str, value: Any
) -> None:
    person, job = employment["person_id"], employment["employment_id"]
    path, body = {
        "employment": (f"{PERSONS}/{person}/employments", employment_body()),
        "contributions": (
            f"/registry/v1/employments/{job}/contributions",
            {"months": ["2025-01"], "insurances": ["pension"]},
        ),
        "end": (f"/registry/v1/employments/{job}/end", {"ended_on": str(date(2025, 6, 30)), "reason": "resigned"}),
        "unemployment": (f"{PERSONS}/{person}/unemployment-registrations", {"registered_on": "2025-06-30"}),
    }[target]
    name = list(body)[field % len(body)] if isinstance(field, int) else field
    await refused_and_unchanged(registry, "POST", path, {**body, name: value})


@settings(max_examples=30)
@given(
    params=st.fixed_dictionaries(
        {},
        optional={
            "limit": hostile_text | huge_integers.map(str) | st.sampled_from(["0", "-1", "1e3", "true", "NaN"]),
            "id_number": hostile_text,
            "cursor": hostile_text
            | st.dictionaries(st.sampled_from(["after", "page"]), junk, min_size=1).map(forged_cursor),
        },
    ).filter(bool)
)
async def test_any_hostile_list_query_is_refused(registry: ServiceClient, params: dict[str, str]) -> None:
    response = await registry.get(f"{PERSONS}?{query(**params)}")
    assert_refused(response)
    assert response.headers["content-type"] == PROBLEM_JSON
