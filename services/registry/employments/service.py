"""Business rules of employment registration and social-insurance months. No FastAPI here."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contracts import registry as events
from contracts.envelope import new_event
from contracts.registry import ContributionMonth as ContributionMonthState
from contracts.registry import EmploymentSnapshot
from contracts.topics import REGISTRY_EMPLOYMENT
from contracts.vocabulary import EndReason
from services.kit.outbox import add_event
from services.registry.employments.schemas import ContributionsCreate, ContributionsRecorded, EmploymentCreate
from services.registry.persons.service import SOURCE, PersonService
from services.registry.problems import (
    DateBeforeBirth,
    DateInFuture,
    EmploymentBeforeRegistration,
    EmploymentEnded,
    EmploymentNotFound,
    EndBeforeStart,
    MonthOutsideEmployment,
    PersonDeceased,
)
from services.registry.tables import ContributionMonth, Employment
from services.registry.warnings.service import WarningService, is_separation


def _month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


class EmploymentService:
    def __init__(self, session: AsyncSession, persons: PersonService, warnings: WarningService) -> None:
        self.session = session
        self.persons = persons
        self.warnings = warnings

    async def get(self, employment_id: uuid.UUID, *, for_update: bool = False) -> Employment:
        employment = await self.session.get(Employment, employment_id, with_for_update=for_update)
        if employment is None:
            raise EmploymentNotFound(f"no employment {employment_id}")
        return employment

    async def months(self, employment_id: uuid.UUID) -> list[ContributionMonth]:
        result = await self.session.execute(
            select(ContributionMonth)
            .where(ContributionMonth.employment_id == employment_id)
            .order_by(col(ContributionMonth.month))
        )
        return list(result.scalars())

    async def record(self, person_id: uuid.UUID, data: EmploymentCreate) -> Employment:
        """Record an employment; it closes the person's open unemployment registration."""
        person = await self.persons.get(person_id, for_update=True)
        today = self.persons.today()
        if person.deceased_on is not None:
            raise PersonDeceased("the person is recorded as deceased")
        if data.started_on > today:
            raise DateInFuture("started_on lies in the future")
        if data.started_on < person.birth_date:
            raise DateBeforeBirth("started_on lies before the person's birth date")
        registration = await self.persons.repo.open_registration(person_id)
        if registration is not None:
            if data.started_on < registration.registered_on:
                raise EmploymentBeforeRegistration(
                    f"started_on lies before the open unemployment registration of {registration.registered_on}"
                )
            registration.closed_on = data.started_on
            registration.close_reason = "employed"
            self.session.add(registration)
        employment = Employment(person_id=person_id, **data.model_dump())
        self.session.add(employment)
        await self.session.flush()
        await self.publish(employment, events.EMPLOYMENT_RECORDED)
        await self.persons.changed(person, events.PERSON_UPDATED)
        return employment

    async def end(self, employment_id: uuid.UUID, ended_on: date, reason: EndReason) -> Employment:
        employment = await self.get(employment_id)
        person = await self.persons.get(employment.person_id, for_update=True)
        await self.session.refresh(employment, with_for_update=True)
        if employment.ended_on is not None:
            raise EmploymentEnded(f"the employment ended already on {employment.ended_on}")
        if ended_on < employment.started_on:
            raise EndBeforeStart("ended_on lies before started_on")
        if ended_on > self.persons.today():
            raise DateInFuture("ended_on lies in the future")
        employment.ended_on = ended_on
        employment.end_reason = reason.value
        employment.version += 1
        self.session.add(employment)
        await self.session.flush()
        await self.publish(employment, events.EMPLOYMENT_ENDED)
        await self.persons.changed(person, events.PERSON_UPDATED)
        if is_separation(reason):
            await self.warnings.separation_recorded(employment, self.persons.today())
        return employment

    async def record_contributions(self, employment_id: uuid.UUID, data: ContributionsCreate) -> ContributionsRecorded:
        """Record months paid; a month on record already changes nothing."""
        employment = await self.get(employment_id, for_update=True)
        first = _month(employment.started_on)
        last = _month(employment.ended_on or self.persons.today())
        outside = [m for m in data.months if not first <= m <= last]
        if outside:
            raise MonthOutsideEmployment(
                f"months outside the employment ({first} to {last}): {', '.join(outside)}", months=outside
            )
        existing = {m.month for m in await self.months(employment_id)}
        new = [m for m in data.months if m not in existing]
        for month in new:
            self.session.add(
                ContributionMonth(employment_id=employment_id, month=month, insurances=list[str](data.insurances))
            )
        if new:
            employment.version += 1
            self.session.add(employment)
            await self.session.flush()
            await self.publish(employment, events.EMPLOYMENT_CONTRIBUTIONS_RECORDED)
        return ContributionsRecorded(
            employment_id=employment_id,
            recorded=new,
            already_recorded=[m for m in data.months if m in existing],
            total_months=len(existing) + len(new),
        )

    async def snapshot(self, employment: Employment) -> EmploymentSnapshot:
        return EmploymentSnapshot(
            employment_id=employment.employment_id,
            person_id=employment.person_id,
            version=employment.version,
            employer_credit_code=employment.employer_credit_code,
            employer_name=employment.employer_name,
            kind=employment.kind,
            started_on=employment.started_on,
            contract_months=employment.contract_months,
            ended_on=employment.ended_on,
            end_reason=employment.end_reason,
            contribution_months=[
                ContributionMonthState(month=m.month, insurances=m.insurances)
                for m in await self.months(employment.employment_id)
            ],
        )

    async def publish(self, employment: Employment, event_type: str) -> None:
        key = str(employment.person_id)
        snapshot = await self.snapshot(employment)
        add_event(
            self.session,
            REGISTRY_EMPLOYMENT,
            key,
            new_event(source=SOURCE, type=event_type, subject=key, data=snapshot),
        )
