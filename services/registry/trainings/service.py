"""Trainings (培训): recorded per person, published in the person's snapshot. No FastAPI here."""

from __future__ import annotations

import uuid

from contracts import registry as events
from services.registry.persons.service import PersonService
from services.registry.problems import DateInFuture, TrainingBeforeBirth
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
        training = Training(person_id=person_id, **data.model_dump())
        self.persons.session.add(training)
        await self.persons.session.flush()
        await self.persons.changed(person, events.PERSON_UPDATED)
        return training
