"""Routes of the yearly programme budgets."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from contracts.vocabulary import Programme
from services.kit.access import Admin, SubsidyReader
from services.kit.openapi import problems
from services.kit.pagination import CursorQuery, LimitQuery, Page
from services.subsidy.budgets.schemas import FIRST_YEAR, LAST_YEAR, BudgetRead, BudgetSet
from services.subsidy.dependencies import BudgetServiceDep
from services.subsidy.money import cny
from services.subsidy.problems import BudgetBelowCommitted, ProgrammeNotFound
from services.subsidy.tables import Budget

router = APIRouter(prefix="/subsidy/v1", tags=["budgets"])

Year = Annotated[int, Path(ge=FIRST_YEAR, le=LAST_YEAR, description="Calendar year of the budget")]


def to_read(budget: Budget) -> BudgetRead:
    available = budget.amount_fen - budget.reserved_fen - budget.spent_fen
    return BudgetRead(
        programme=budget.programme,
        year=budget.year,
        amount=cny(budget.amount_fen),
        amount_fen=budget.amount_fen,
        reserved=cny(budget.reserved_fen),
        reserved_fen=budget.reserved_fen,
        spent=cny(budget.spent_fen),
        spent_fen=budget.spent_fen,
        available=cny(available),
        available_fen=available,
        updated_at=budget.updated_at,
    )


@router.put(
    "/budgets/{programme}/{year}",
    response_model=BudgetRead,
    summary="Set a programme's budget for a year (admin)",
    description="The amount may not be below what approvals have already reserved and settlements spent "
    "in that year (`budget-below-committed`).",
    responses=problems(ProgrammeNotFound, BudgetBelowCommitted),
)
async def set_budget(
    programme: Annotated[str, Path(description="Programme code, e.g. `hiring_key_groups`")],
    year: Year,
    body: BudgetSet,
    _: Admin,
    service: BudgetServiceDep,
) -> BudgetRead:
    return to_read(await service.set(programme, year, body))


@router.get("/budgets", response_model=Page[BudgetRead], summary="List budgets with what is reserved and spent")
async def list_budgets(
    _: SubsidyReader,
    service: BudgetServiceDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    programme: Annotated[Programme | None, Query(description="Only this programme")] = None,
    year: Annotated[int | None, Query(ge=FIRST_YEAR, le=LAST_YEAR, description="Only this year")] = None,
) -> Page[BudgetRead]:
    budgets, next_cursor = await service.page(limit=limit, cursor=cursor, programme=programme, year=year)
    return Page[BudgetRead](items=[to_read(b) for b in budgets], next_cursor=next_cursor)
