"""Hostile input to the subsidy service, against real PostgreSQL: filters and cursors that reach SQL,
money that is not a number, notes that hide text. Every request is a 4xx problem (never a 500, never
a redirect) and changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.kit.hostile import assert_refused, forged_cursor, hostile_text, json_body, junk, query
from tests.subsidy.scenario import ADMIN, API, PROGRAMME, READER, REVIEWER, SUBMITTER, TREASURY, Harness, eligible_hire

pytestmark = pytest.mark.integration

JSON = {"content-type": "application/json"}
BUDGET = f"{API}/budgets/{PROGRAMME}/2036"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def targets(subsidy: Harness) -> AsyncIterator[dict[str, Any]]:
    """An eligible application, an instructed payment and a budget: things a bad request could spoil."""
    await subsidy.give_budget_room(2)
    eligible = await subsidy.project(eligible_hire())
    application = (await subsidy.apply(eligible)).json()
    _, payment = await subsidy.approved(await subsidy.project(eligible_hire()))
    await subsidy.approved(await subsidy.project(eligible_hire()))  # a second payment, so payments page
    fresh = await subsidy.project(eligible_hire())
    assert (await subsidy.client.put(BUDGET, json={"amount_fen": 100}, **ADMIN)).status_code == 200
    yield {"application": application["application_id"], "payment": payment["payment_id"], "hire": fresh}


async def refused_and_unchanged(
    subsidy: Harness, method: str, path: str, body: Any = None, caller: dict[str, Any] = ADMIN
) -> dict[str, Any]:
    before = await subsidy.state()
    content = None if body is None else json_body(body)
    response = await subsidy.client.request(method, path, content=content, headers=JSON if content else None, **caller)
    problem = assert_refused(response)
    assert "location" not in response.headers
    assert await subsidy.state() == before
    return problem


class TestFiltersReachingSql:
    @pytest.mark.parametrize("listing", ["applications", "budgets"])
    @pytest.mark.parametrize("programme", ["hiring\x00key_groups", "hiring_key_groups\u202e", "x" * 41])
    async def test_a_programme_filter_that_no_programme_has_is_422(
        self, subsidy: Harness, targets: dict[str, Any], listing: str, programme: str
    ) -> None:
        problem = await refused_and_unchanged(subsidy, "GET", f"{API}/{listing}?{query(programme=programme)}")
        assert problem["status"] == 422 and problem["errors"][0]["location"] == "query.programme"

    async def test_a_proper_programme_filter_still_lists(self, subsidy: Harness, targets: dict[str, Any]) -> None:
        response = await subsidy.client.get(f"{API}/applications?programme={PROGRAMME}", **READER)
        assert response.status_code == 200 and response.json()["items"]

    @pytest.mark.parametrize(
        ("listing", "position"),
        [
            ("budgets", {"programme": PROGRAMME, "year": 2**63}),  # beyond BIGINT
            ("budgets", {"programme": PROGRAMME, "year": 2**31}),  # beyond INTEGER
            ("budgets", {"programme": PROGRAMME, "year": 10**400}),
            ("budgets", {"programme": PROGRAMME, "year": True}),
            ("budgets", {"programme": PROGRAMME, "year": "2025"}),
            ("budgets", {"programme": PROGRAMME, "year": float("inf")}),
            ("budgets", {"programme": "hiring\x00", "year": 2025}),
            ("budgets", {"programme": "hiring\ud800", "year": 2025}),
            ("budgets", {"programme": ["x"], "year": 2025}),
            ("applications", {"created_at": "2026-01-01T00:00:00", "application_id": str(uuid.UUID(int=1))}),
            ("applications", {"created_at": "0000-01-01T00:00:00+00:00", "application_id": str(uuid.UUID(int=1))}),
            ("applications", {"created_at": "2026-01-01T00:00:00+00:00\x00", "application_id": str(uuid.UUID(int=1))}),
            ("applications", {"created_at": "2026-01-01T00:00:00+00:00", "application_id": 2**63}),
            ("payments", {"after": "\x00"}),
            ("payments", {"after": float("nan")}),
        ],
        ids=repr,
    )
    async def test_a_forged_cursor_is_422(
        self, subsidy: Harness, targets: dict[str, Any], listing: str, position: dict[str, Any]
    ) -> None:
        path = f"{API}/{listing}?cursor={forged_cursor(position)}"
        assert (await refused_and_unchanged(subsidy, "GET", path))["type"].endswith("invalid-cursor")

    async def test_a_cursor_the_service_issued_still_pages(self, subsidy: Harness, targets: dict[str, Any]) -> None:
        for listing in ("applications", "budgets", "payments"):
            first = await subsidy.client.get(f"{API}/{listing}?limit=1", **READER)
            assert first.status_code == 200 and first.json()["next_cursor"], first.text
            second = await subsidy.client.get(f"{API}/{listing}?limit=1&cursor={first.json()['next_cursor']}", **READER)
            assert second.status_code == 200, second.text
            assert second.json()["items"] != first.json()["items"]


class TestMoneyIsANumber:
    @pytest.mark.parametrize(
        "body",
        [
            {"amount_fen": True},  # once accepted as 1 fen
            {"amount_fen": False},
            {"amount_fen": "100"},
            {"amount_fen": 100.0},
            {"amount_fen": 2**63},
            {"amount_fen": float("nan")},
            {"amount": float("nan")},
            {"amount": float("inf")},
            {"amount": "Infinity"},
            {"amount": True},
            {"amount": "1e400"},
        ],
        ids=repr,
    )
    async def test_a_budget_amount_that_is_not_a_number_of_fen_or_yuan_is_422(
        self, subsidy: Harness, targets: dict[str, Any], body: dict[str, Any]
    ) -> None:
        problem = await refused_and_unchanged(subsidy, "PUT", BUDGET, body)
        assert problem["status"] == 422 and problem["errors"][0]["location"].startswith("body")


class TestText:
    async def test_an_application_for_a_programme_with_hidden_characters_is_422(
        self, subsidy: Harness, targets: dict[str, Any]
    ) -> None:
        for programme in ("hiring_key_groups\x00", "hiring_key_groups\u200b", "\ud800"):
            body = targets["hire"].application(programme=programme)
            problem = await refused_and_unchanged(subsidy, "POST", f"{API}/applications", body, SUBMITTER)
            assert problem["errors"][0]["location"] == "body.programme"

    async def test_a_note_or_bank_reference_that_hides_text_is_422(
        self, subsidy: Harness, targets: dict[str, Any]
    ) -> None:
        decide = f"{API}/applications/{targets['application']}/decision"
        await refused_and_unchanged(subsidy, "POST", decide, {"decision": "reject", "note": "ok\u202eko"}, REVIEWER)
        await refused_and_unchanged(subsidy, "POST", decide, {"decision": "reject", "note": "a\u2028b"}, REVIEWER)
        settle = f"{API}/payments/{targets['payment']}/settlement"
        body = {"outcome": "settled", "bank_reference": "ICBC\u2066-1"}
        await refused_and_unchanged(subsidy, "POST", settle, body, TREASURY)


class TestNoRedirects:
    async def test_a_trailing_slash_is_a_404_problem_not_a_redirect(
        self, subsidy: Harness, targets: dict[str, Any]
    ) -> None:
        for method, path in (
            ("GET", f"{API}/applications/"),
            ("GET", f"{API}/budgets/"),
            ("GET", f"{API}/applications/{targets['application']}/"),
            ("POST", f"{API}/applications/"),
            ("PUT", f"{BUDGET}/"),
        ):
            body = {"amount_fen": 1} if method != "GET" else None
            assert (await refused_and_unchanged(subsidy, method, path, body))["status"] == 404


@settings(max_examples=40)
@given(
    target=st.sampled_from(["apply", "decide", "settle", "budget"]),
    field=st.integers(0, 3) | hostile_text,
    value=junk,
)
async def test_any_spoiled_request_is_refused_and_changes_nothing(
    subsidy: Harness, targets: dict[str, Any], target: str, field: int | str, value: Any
) -> None:
    path, body, caller = {
        "apply": (f"{API}/applications", targets["hire"].application(), SUBMITTER),
        "decide": (
            f"{API}/applications/{targets['application']}/decision",
            {"decision": "reject", "note": "材料不全"},
            REVIEWER,
        ),
        "settle": (
            f"{API}/payments/{targets['payment']}/settlement",
            {"outcome": "settled", "bank_reference": "ICBC-7"},
            TREASURY,
        ),
        "budget": (BUDGET, {"amount_fen": 100}, ADMIN),
    }[target]
    name = list(body)[field % len(body)] if isinstance(field, int) else field
    await refused_and_unchanged(subsidy, "PUT" if target == "budget" else "POST", path, {**body, name: value}, caller)


cursors = st.dictionaries(
    st.sampled_from(["after", "programme", "year", "created_at", "application_id"]), junk, min_size=1
).map(forged_cursor)


@settings(max_examples=40)
@given(
    listing=st.sampled_from(["applications", "budgets", "payments"]),
    params=st.fixed_dictionaries(
        {},
        optional={
            "cursor": cursors | hostile_text,
            "limit": hostile_text | st.sampled_from(["0", "501", str(2**64), "1.5", "true"]),
            "programme": hostile_text,
            "status": hostile_text,
            "year": hostile_text | st.sampled_from([str(2**63), "1999", "NaN"]),
            "application_id": hostile_text,
            "beneficiary_person_id": hostile_text,
        },
    ).filter(bool),
)
async def test_any_hostile_list_query_is_refused(
    subsidy: Harness, targets: dict[str, Any], listing: str, params: dict[str, str]
) -> None:
    # A filter another list does not take is ignored there, so each list gets the hostile ones it takes.
    takes = {
        "applications": {"cursor", "limit", "programme", "status", "beneficiary_person_id"},
        "budgets": {"cursor", "limit", "programme", "year"},
        "payments": {"cursor", "limit", "application_id"},
    }[listing]
    taken = {k: v for k, v in params.items() if k in takes} or {"cursor": params.get("cursor", "%%%")}
    response = await subsidy.client.get(f"{API}/{listing}?{query(**taken)}", **READER)
    assert_refused(response)
