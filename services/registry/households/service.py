"""Households and the zero-employment work queue (零就业家庭, SPEC 2.2). No FastAPI here.

A household is the registered persons sharing a household number (public security's, or civil
affairs' when public security has not reported one). It is worked out again whenever one of its
members changes and by the daily sweep, and each change of its state is published on
`registry.household.v1`."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import date
from typing import TYPE_CHECKING

from contracts.envelope import new_event
from contracts.registry import HOUSEHOLD_CHANGED, PERSON_DIFFICULTY_CHANGED, HouseholdSnapshot
from contracts.topics import REGISTRY_HOUSEHOLD
from contracts.vocabulary import Category, HouseholdKind
from services.kit.db import utcnow
from services.kit.outbox import add_event
from services.registry.persons.categories import is_working_age, next_working_age_change
from services.registry.tables import Household, Person

if TYPE_CHECKING:
    from services.registry.persons.service import PersonService

SOURCE = "/registry"


def household_kind(members: list[tuple[bool, bool, bool, bool]]) -> HouseholdKind | None:
    """The queue a household belongs in, from its living members' (working age, registered
    unemployed, employed, low income) flags; None when it is not listed.

    `zero_employment`: a working-age member, a member registered unemployed, and no working-age
    member employed. `low_income_all_unemployed`: a member holds `low_income_family` and none of the
    working-age members (there is at least one) works."""
    working_age = [m for m in members if m[0]]
    if not working_age or any(m[2] for m in working_age):
        return None
    if any(m[1] for m in members):
        return HouseholdKind.zero_employment
    if any(m[3] for m in members):
        return HouseholdKind.low_income_all_unemployed
    return None


class HouseholdService:
    def __init__(self, persons: PersonService) -> None:
        self.persons = persons
        self.session = persons.session
        self.repo = persons.repo

    async def refresh(self, household_no: str, *, changed_members: Collection[uuid.UUID] = ()) -> Household:
        """Work the household out again under its lock and publish it when its queue state,
        town or members changed; republish the other members whose `zero_employment_family` follows
        (`changed_members`, whose own changes are being published by the caller, are left to it)."""
        # One refresh of a household at a time, the household's first included (no row to lock yet).
        await self.repo.lock_subject(f"household:{household_no}")
        household = await self.repo.household(household_no)
        if household is None:
            household = Household(household_no=household_no, version=0)
        members = await self.repo.members(household_no)
        living = [m for m in members if m.deceased_on is None]
        today = self.persons.today()
        states = await self.persons.states(living)
        kind = household_kind(
            [
                (
                    is_working_age(m.gender, m.birth_date, today),
                    s.status == "unemployed",
                    s.status == "employed",
                    any(c.category == Category.low_income_family for c in s.categories),
                )
                for m, s in zip(living, states, strict=True)
            ]
        )
        listed = kind.value if kind is not None else None
        before = (household.kind, household.town, household.published_members)
        was_zero = household.kind == HouseholdKind.zero_employment
        if listed != household.kind:
            household.since = today if listed is not None else None
        household.kind = listed
        household.zero_employment = listed is not None
        household.town = next((m.town for m in living if m.town), None)
        # The sweep's next look: the first day a living member comes of or out of working age.
        household.due_on = min(
            (next_working_age_change(m.gender, m.birth_date, today) for m in living), default=date.max
        )
        member_ids = ",".join(sorted(str(m.person_id) for m in members))
        if household.version == 0 or (household.kind, household.town, member_ids) != before:
            household.version += 1
            household.published_members = member_ids
            household.updated_at = utcnow()
            self.session.add(household)
            await self.session.flush()
            self.publish(household, members)
        if was_zero != (household.kind == HouseholdKind.zero_employment):
            # Each sibling's row is locked and read again before its version is bumped, in person-id
            # order: a concurrent change to that sibling otherwise publishes the same version twice,
            # and projections keep the first (a lost update of its categories).
            for member in sorted(living, key=lambda m: m.person_id):
                if member.person_id not in changed_members:
                    locked = await self.repo.lock_person(member.person_id)
                    await self.persons.changed(locked, PERSON_DIFFICULTY_CHANGED, refresh_household=False)
        return household

    def publish(self, household: Household, members: list[Person]) -> None:
        add_event(
            self.session,
            REGISTRY_HOUSEHOLD,
            household.household_no,
            new_event(
                source=SOURCE,
                type=HOUSEHOLD_CHANGED,
                subject=household.household_no,
                data=snapshot(household, members),
            ),
        )


def snapshot(household: Household, members: list[Person]) -> HouseholdSnapshot:
    return HouseholdSnapshot(
        household_no=household.household_no,
        version=household.version,
        members=[m.person_id for m in members],
        zero_employment=household.zero_employment,
        kind=HouseholdKind(household.kind) if household.kind else None,
        since=household.since,
        towns=sorted({m.town for m in members if m.town}),
    )
