"""Business rules of people and unemployment registration (就业失业登记). No FastAPI here."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import cast

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from contracts import registry as events
from contracts.envelope import new_event
from contracts.registry import DifficultyCategory, PersonSnapshot, UnemploymentRegistrationState
from contracts.topics import REGISTRY_PERSON
from services.kit.db import utcnow
from services.kit.errors import Conflict, NotFound, Unprocessable
from services.kit.identifiers import birth_date_of, gender_of, mask_id_number, subject_ref
from services.kit.outbox import add_event
from services.registry.persons.categories import CategoryFact, active_categories, ended_categories
from services.registry.persons.protection import IdNumberProtector, mask_name
from services.registry.persons.repository import PersonRepository
from services.registry.persons.schemas import PersonCreate
from services.registry.settings import RegistrySettings
from services.registry.tables import Person, PersonFact, UnemploymentRegistration

SOURCE = "/registry"
PERSON = cast(sa.Table, Person.__table__)  # type: ignore[attr-defined]


@dataclass
class PersonState:
    """A person with everything derived from them, as of one day."""

    person: Person
    registrations: list[UnemploymentRegistration]
    categories: list[DifficultyCategory]
    status: str
    ended_categories: list[DifficultyCategory]

    def registration_states(self) -> list[UnemploymentRegistrationState]:
        return [
            UnemploymentRegistrationState(
                registration_id=r.registration_id, registered_on=r.registered_on, closed_on=r.closed_on
            )
            for r in self.registrations
        ]


def category_facts(facts: list[PersonFact]) -> list[CategoryFact]:
    return [CategoryFact(f.category, f.agency, f.valid_from, f.valid_until) for f in facts]


class PersonService:
    def __init__(
        self,
        session: AsyncSession,
        protector: IdNumberProtector,
        subject_key: bytes,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.session = session
        self.repo = PersonRepository(session)
        self.protector = protector
        self.subject_key = subject_key
        self.today = today

    async def register(self, data: PersonCreate) -> PersonState:
        """Register a person once; a second registration of the same id number is a 409."""
        index = self.protector.blind_index(data.id_number)
        # No look-up first: the unique blind index refuses a second registration, which is rare,
        # and saves every first registration a round trip.
        person = Person(
            id_number_ciphertext=self.protector.encrypt(data.id_number),
            id_number_index=index,
            id_number_masked=mask_id_number(data.id_number),
            subject_ref=subject_ref(self.subject_key, data.id_number),
            name=data.name,
            phone=data.phone,
            gender=gender_of(data.id_number),
            birth_date=birth_date_of(data.id_number),
            hukou_type=data.hukou_type,
            hukou_local=data.hukou_local,
            town=data.town,
            education=data.education,
            graduation_date=data.graduation_date,
        )
        await self.repo.lock_subject(person.subject_ref)
        try:
            # A Core INSERT: the hot path of registration skips the ORM unit of work; `person`
            # stays a plain, unattached object the rest of the request only reads.
            await self.session.execute(sa.insert(PERSON), [person.model_dump()])
        except IntegrityError:
            # Registered before (or by a concurrent request): this request changes nothing.
            await self.session.rollback()
            winner = await self.repo.by_id_number_index(index)
            if winner is None:
                raise
            raise self._already_registered(winner) from None
        state = await self.state(person, fresh=True)
        self.publish(state, events.PERSON_REGISTERED)
        return state

    def _already_registered(self, person: Person) -> Conflict:
        return Conflict(
            "a person with this id number is already registered",
            slug="person-exists",
            person_id=str(person.person_id),
        )

    async def get(self, person_id: uuid.UUID, *, for_update: bool = False) -> Person:
        person = await self.repo.get(person_id, for_update=for_update)
        if person is None:
            raise NotFound(f"no person {person_id}", slug="person-not-found")
        return person

    async def state(self, person: Person, *, fresh: bool = False) -> PersonState:
        """The person as of today; `fresh` (just registered) skips the queries that must come back empty."""
        registrations = [] if fresh else await self.repo.registrations(person.person_id)
        open_registration = next((r for r in registrations if r.closed_on is None), None)
        employed = False if fresh else bool(await self.repo.open_employments(person.person_id))
        facts = category_facts(await self.repo.facts(person.subject_ref))
        categories = active_categories(
            facts=facts,
            gender=person.gender,
            birth_date=person.birth_date,
            unemployed_since=open_registration.registered_on if open_registration else None,
            today=self.today(),
        )
        status = "employed" if employed else "unemployed" if open_registration else "none"
        return PersonState(person, registrations, categories, status, ended_categories(facts=facts, today=self.today()))

    def reveal_id_number(self, person: Person) -> str:
        return self.protector.decrypt(person.id_number_ciphertext)

    async def register_unemployment(self, person_id: uuid.UUID, registered_on: date) -> UnemploymentRegistration:
        person = await self.get(person_id, for_update=True)
        if person.deceased_on is not None:
            raise Conflict("the person is recorded as deceased", slug="person-deceased")
        if registered_on > self.today():
            raise Unprocessable("registered_on lies in the future", slug="date-in-future")
        if registered_on < person.birth_date:
            raise Unprocessable("registered_on lies before the person's birth date", slug="date-before-birth")
        if await self.repo.open_employments(person_id):
            raise Conflict(
                "a person with an open employment cannot register as unemployed; end the employment first",
                slug="employment-open",
            )
        # No backdating across what is on record: a registration cannot reach back before the
        # person's last employment, nor before an earlier registration was closed.
        last_worked = await self.repo.latest_employment_day(person_id)
        if last_worked is not None and registered_on < last_worked:
            raise Unprocessable(
                f"registered_on lies before {last_worked}, the last day of an employment on record",
                slug="registration-before-employment",
            )
        closed = [r.closed_on for r in await self.repo.registrations(person_id) if r.closed_on is not None]
        if closed and registered_on < max(closed):
            raise Unprocessable(
                f"registered_on lies before {max(closed)}, when an earlier registration was closed",
                slug="registration-before-last-registration",
            )
        current = await self.repo.open_registration(person_id)
        if current is not None:
            raise Conflict(
                "the person is already registered as unemployed",
                slug="already-registered-unemployed",
                registration_id=str(current.registration_id),
            )
        registration = UnemploymentRegistration(person_id=person_id, registered_on=registered_on)
        try:
            async with self.session.begin_nested():
                self.session.add(registration)
                await self.session.flush()
        except IntegrityError:
            raise Conflict(
                "the person is already registered as unemployed", slug="already-registered-unemployed"
            ) from None
        await self.changed(person, events.PERSON_UPDATED)
        return registration

    async def changed(self, person: Person, event_type: str) -> PersonState:
        """Bump the person's version and publish the new snapshot."""
        person.version += 1
        person.updated_at = utcnow()
        self.session.add(person)
        state = await self.state(person)
        self.publish(state, event_type)
        return state

    def publish(self, state: PersonState, event_type: str) -> None:
        person = state.person
        snapshot = PersonSnapshot(
            person_id=person.person_id,
            subject_ref=person.subject_ref,
            version=person.version,
            name_masked=mask_name(person.name),
            id_number_masked=person.id_number_masked,
            gender=person.gender,
            birth_date=person.birth_date,
            hukou_type=person.hukou_type,
            status=state.status,
            deceased_on=person.deceased_on,
            household_no=person.household_no,
            difficulty_categories=[c for c in state.categories if c.category not in events.SENSITIVE_CATEGORIES],
            unemployment_registrations=state.registration_states(),
            ended_difficulty_categories=[
                c for c in state.ended_categories if c.category not in events.SENSITIVE_CATEGORIES
            ],
        )
        key = str(person.person_id)
        add_event(
            self.session, REGISTRY_PERSON, key, new_event(source=SOURCE, type=event_type, subject=key, data=snapshot)
        )


PersonServiceFactory = Callable[[AsyncSession], PersonService]


def person_services(settings: RegistrySettings) -> PersonServiceFactory:
    """PersonService per session, with the keys read from settings once (the app, its consumer and
    tools that apply facts outside the app share this)."""
    protector = IdNumberProtector(
        settings.id_number_key.get_secret_value(), settings.blind_index_key.get_secret_value()
    )
    subject_key = settings.subject_key.get_secret_value().encode()
    return lambda session: PersonService(session, protector, subject_key)
