"""Trainings (培训): recorded per person, published in the person's snapshot. No FastAPI here."""

from __future__ import annotations

import uuid

from contracts import registry as events
from services.registry.persons.service import PersonService
from services.registry.problems import DateInFuture, PersonDeceased, TrainingBeforeBirth
from services.registry.tables import Training
from services.registry.trainings.schemas import TrainingCreate


class TrainingService:
    def __init__(self, persons: PersonService) -> None:
        self.persons = persons

    async def record(self, person_id: uuid.UUID, data: TrainingCreate) -> Training:
        person = await self.persons.get(person_id, for_update=True)
        if data.completed_on > self.persons.today():
            raise DateInFuture("completed_on lies in the future")
        if data.completed_on < person.birth_date:
            raise TrainingBeforeBirth("completed_on lies before the person's birth date")
        # A completion reported after a death is recorded when it came before it (it happened, and
        # a provider reports monthly); one after it cannot be.
        if person.deceased_on is not None and data.completed_on > person.deceased_on:
            raise PersonDeceased(
                f"the person is recorded as deceased on {person.deceased_on}; completed_on lies after it",
                deceased_on=person.deceased_on.isoformat(),
            )
        training = Training(person_id=person_id, **data.model_dump())
        self.persons.session.add(training)
        await self.persons.session.flush()
        await self.persons.changed(person, events.PERSON_UPDATED)
        return training
