"""Routes of households and the zero-employment work queue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from contracts.vocabulary import HouseholdKind
from services.kit.access import RegistryReader
from services.kit.openapi import problems
from services.kit.pagination import CursorQuery, LimitQuery, Page
from services.kit.text import SingleLine
from services.registry.dependencies import PersonReaderDep
from services.registry.households.schemas import HouseholdRead
from services.registry.households.service import snapshot
from services.registry.problems import HouseholdNotFound
from services.registry.tables import Household, Person

router = APIRouter(prefix="/registry/v1", tags=["households"])

HouseholdNo = Annotated[str, Path(min_length=1, max_length=64, description="Household number (户号)")]


def _read(household: Household, members: list[Person]) -> HouseholdRead:
    return HouseholdRead(**snapshot(household, members).model_dump(), updated_at=household.updated_at)


@router.get(
    "/households",
    response_model=Page[HouseholdRead],
    summary="List households; `zero_employment=true` is the work queue (零就业家庭)",
)
async def list_households(
    _: RegistryReader,
    persons: PersonReaderDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    zero_employment: Annotated[bool | None, Query(description="Only households in (or out of) the queue")] = None,
    kind: Annotated[HouseholdKind | None, Query(description="Only households listed with this kind")] = None,
    town: Annotated[SingleLine | None, Query(max_length=100, description="Only households of this town")] = None,
) -> Page[HouseholdRead]:
    households, next_cursor = await persons.repo.households_page(
        zero_employment=zero_employment, kind=kind, town=town, limit=limit, cursor=cursor
    )
    members = await persons.repo.members_of([h.household_no for h in households])
    return Page[HouseholdRead](
        items=[_read(h, members.get(h.household_no, [])) for h in households], next_cursor=next_cursor
    )


@router.get(
    "/households/{household_no}",
    response_model=HouseholdRead,
    summary="Read a household",
    responses=problems(HouseholdNotFound),
)
async def read_household(household_no: HouseholdNo, _: RegistryReader, persons: PersonReaderDep) -> HouseholdRead:
    household = await persons.repo.household(household_no)
    if household is None:
        raise HouseholdNotFound(f"no household {household_no!r} is known to the registry")
    return _read(household, await persons.repo.members(household_no))
