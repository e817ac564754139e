"""Routes of households and the zero-employment work queue."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from sqlmodel import col, select

from contracts.vocabulary import HouseholdKind, Scope
from services.kit.db import SessionDep
from services.kit.identity import Caller, require_scope
from services.kit.pagination import CursorQuery, LimitQuery, Page, paginate
from services.registry.households.schemas import HouseholdRead, HouseholdsCursor
from services.registry.households.service import snapshot
from services.registry.problems import HouseholdNotFound
from services.registry.tables import Household, Person

router = APIRouter(prefix="/registry/v1", tags=["households"])

Reader = Annotated[Caller, Depends(require_scope(Scope.registry_read))]
HouseholdNo = Annotated[str, Path(min_length=1, max_length=64, description="Household number (户号)")]


async def _members(session: SessionDep, numbers: list[str]) -> dict[str, list[Person]]:
    found: dict[str, list[Person]] = defaultdict(list)
    if numbers:
        result = await session.execute(
            select(Person).where(col(Person.household_no).in_(numbers)).order_by(col(Person.person_id))
        )
        for person in result.scalars():
            found[person.household_no or ""].append(person)
    return found


def _read(household: Household, members: list[Person]) -> HouseholdRead:
    return HouseholdRead(**snapshot(household, members).model_dump(), updated_at=household.updated_at)


@router.get(
    "/households",
    response_model=Page[HouseholdRead],
    summary="List households; `zero_employment=true` is the work queue (零就业家庭)",
)
async def list_households(
    _: Reader,
    session: SessionDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    zero_employment: Annotated[bool | None, Query(description="Only households in (or out of) the queue")] = None,
    kind: Annotated[HouseholdKind | None, Query(description="Only households listed with this kind")] = None,
    town: Annotated[str | None, Query(max_length=100, description="Only households of this town")] = None,
) -> Page[HouseholdRead]:
    query = select(Household)
    if zero_employment is not None:
        query = query.where(Household.zero_employment == zero_employment)
    if kind is not None:
        query = query.where(Household.kind == kind.value)
    if town is not None:
        query = query.where(Household.town == town)
    households, next_cursor = await paginate(
        session, query, keys=[col(Household.household_no)], position=HouseholdsCursor, limit=limit, cursor=cursor
    )
    members = await _members(session, [h.household_no for h in households])
    return Page[HouseholdRead](
        items=[_read(h, members.get(h.household_no, [])) for h in households], next_cursor=next_cursor
    )


@router.get("/households/{household_no}", response_model=HouseholdRead, summary="Read a household")
async def read_household(household_no: HouseholdNo, _: Reader, session: SessionDep) -> HouseholdRead:
    household = await session.get(Household, household_no)
    if household is None:
        raise HouseholdNotFound(f"no household {household_no!r} is known to the registry")
    members = await _members(session, [household_no])
    return _read(household, members.get(household_no, []))
