"""Four-eyes decisions and the yearly budget an approval reserves, which is never overspent."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import delete

from services.subsidy.tables import Budget
from tests.subsidy.scenario import (
    ADMIN,
    API,
    GRANT_FEN,
    PROGRAMME,
    READER,
    REVIEWER,
    SUBMITTER,
    Harness,
    eligible_hire,
    problem,
)

pytestmark = pytest.mark.integration


async def test_the_submitter_may_not_decide_its_own_application(subsidy: Harness) -> None:
    await subsidy.give_budget_room(1)
    hire = await subsidy.project(eligible_hire())
    application = (await subsidy.apply(hire)).json()
    before = await subsidy.state()

    # Even holding the review scope, the submitting client is not the second pair of eyes.
    own = {"client_id": SUBMITTER["client_id"], "scopes": ["subsidy:apply", "subsidy:review"]}
    for decision, note in (("approve", None), ("reject", "changed my mind")):
        body = problem(await subsidy.decide(application["application_id"], decision, note, **own), 403, "four-eyes")
        assert body["submitted_by"] == SUBMITTER["client_id"]
    assert await subsidy.state() == before

    assert (await subsidy.decide(application["application_id"])).status_code == 200


async def test_deciding_needs_the_review_scope(subsidy: Harness) -> None:
    hire = await subsidy.project(eligible_hire())
    application = (await subsidy.apply(hire)).json()
    before = await subsidy.state()
    body = problem(await subsidy.decide(application["application_id"], **READER), 403, "forbidden")
    assert body["required_scope"] == "subsidy:review"
    assert await subsidy.state() == before


async def test_approvals_beyond_the_budget_are_refused_and_nothing_is_reserved(subsidy: Harness) -> None:
    await subsidy.give_budget_room(1)
    first = (await subsidy.apply(await subsidy.project(eligible_hire()))).json()
    second = (await subsidy.apply(await subsidy.project(eligible_hire()))).json()

    assert (await subsidy.decide(first["application_id"])).status_code == 200
    assert (await subsidy.budget())["available_fen"] == 0
    before = await subsidy.state()
    body = problem(await subsidy.decide(second["application_id"]), 409, "budget-exhausted")
    assert body["available_fen"] == 0 and body["needed_fen"] == GRANT_FEN
    assert await subsidy.state() == before
    assert (await subsidy.application(second["application_id"]))["status"] == "eligible"

    # More budget, and the same application is approved.
    await subsidy.give_budget_room(1)
    assert (await subsidy.decide(second["application_id"])).status_code == 200


async def test_concurrent_approvals_never_overspend_the_budget(subsidy: Harness) -> None:
    await subsidy.give_budget_room(2)
    before = await subsidy.budget()
    hires = [await subsidy.project(eligible_hire()) for _ in range(5)]
    applications = [(await subsidy.apply(h)).json() for h in hires]
    decisions = await asyncio.gather(*(subsidy.decide(a["application_id"]) for a in applications))
    assert sorted(r.status_code for r in decisions) == [200, 200, 409, 409, 409]
    after = await subsidy.budget()
    assert after["reserved_fen"] == before["reserved_fen"] + 2 * GRANT_FEN
    assert after["available_fen"] == 0


async def test_approval_without_a_budget_for_the_year_is_refused(subsidy: Harness) -> None:
    year = subsidy.clock.today().year
    hire = await subsidy.project(eligible_hire())
    application = (await subsidy.apply(hire)).json()
    async with subsidy.session() as s:
        kept = await s.get(Budget, (PROGRAMME, year))
        if kept is not None:
            await s.execute(delete(Budget).where(Budget.programme == PROGRAMME, Budget.year == year))  # type: ignore[arg-type]
            await s.commit()
    try:
        before = await subsidy.state()
        body = problem(await subsidy.decide(application["application_id"]), 409, "no-budget")
        assert body["year"] == year
        assert await subsidy.state() == before
    finally:
        if kept is not None:
            async with subsidy.session() as s:
                s.add(Budget(**kept.model_dump()))
                await s.commit()


async def test_a_budget_is_set_by_an_administrator_and_never_below_what_is_committed(subsidy: Harness) -> None:
    path = f"{API}/budgets/{PROGRAMME}/2031"
    body = (await subsidy.client.put(path, json={"amount": "120000.50"}, **ADMIN)).json()
    assert body == {
        **body,
        "programme": PROGRAMME,
        "year": 2031,
        "amount": "120000.50",
        "amount_fen": 12_000_050,
        "reserved": "0.00",
        "spent": "0.00",
        "available": "120000.50",
        "available_fen": 12_000_050,
    }
    assert (await subsidy.client.put(path, json={"amount": 90000}, **ADMIN)).json()["amount_fen"] == 9_000_000
    listed = await subsidy.client.get(f"{API}/budgets?year=2031", **READER)
    assert [b["amount"] for b in listed.json()["items"]] == ["90000.00"]

    # This year's budget holds reservations: it cannot drop below them.
    await subsidy.give_budget_room(1)
    await subsidy.approved(await subsidy.project(eligible_hire()))
    current = await subsidy.budget()
    before = await subsidy.state()
    committed = current["reserved_fen"] + current["spent_fen"]
    response = await subsidy.client.put(
        f"{API}/budgets/{PROGRAMME}/{subsidy.clock.today().year}", json={"amount_fen": committed - 1}, **ADMIN
    )
    body = problem(response, 409, "budget-below-committed")
    assert body["reserved_fen"] == current["reserved_fen"]
    assert await subsidy.state() == before

    body = problem(await subsidy.client.put(path, json={"amount": 1}, **REVIEWER), 403, "forbidden")
    assert body["required_scope"] == "admin"


async def test_budgets_list_page_by_page(subsidy: Harness) -> None:
    for year in (2040, 2041, 2042):
        await subsidy.client.put(f"{API}/budgets/{PROGRAMME}/{year}", json={"amount": year}, **ADMIN)
    seen = []
    cursor = None
    while True:
        query = "limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = (await subsidy.client.get(f"{API}/budgets?{query}", **READER)).json()
        seen.extend((b["programme"], b["year"]) for b in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen)
    assert {(PROGRAMME, 2040), (PROGRAMME, 2041), (PROGRAMME, 2042)} <= set(seen)
