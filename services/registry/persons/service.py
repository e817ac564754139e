"""Business rules of people and unemployment registration (就业失业登记). No FastAPI here."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from contracts import registry as events
from contracts.envelope import new_event
from contracts.registry import (
    DifficultyCategory,
    PersonSnapshot,
    PublishedDifficulty,
    TrainingState,
    UnemploymentRegistrationState,
)
from contracts.topics import REGISTRY_PERSON
from contracts.vocabulary import COLLEGE_LEVELS, RESTRICTED_DIFFICULTY, SENSITIVE_CATEGORIES, Category
from services.kit.clock import SYSTEM_CLOCK, Clock, bureau_date
from services.kit.db import insert_for, utcnow
from services.kit.identifiers import birth_date_of, gender_of, mask_id_number, subject_ref
from services.kit.outbox import add_event
from services.registry.facts.appliers import PersonUpdate, graduate_grant, grants_of, person_update_of
from services.registry.households.service import HouseholdService
from services.registry.persons.categories import (
    CategoryFact,
    CategoryInputs,
    active_categories,
    ended_categories,
    fingerprint,
    next_calendar_change,
)
from services.registry.persons.protection import IdNumberProtector, mask_name
from services.registry.persons.repository import (
    NO_RECORDS,
    PERSON,
    AnyPerson,
    FactView,
    NewPerson,
    PersonRecords,
    PersonRepository,
    RegistrationView,
    TrainingView,
    WritablePerson,
)
from services.registry.persons.schemas import PersonCreate
from services.registry.problems import (
    AlreadyRegisteredUnemployed,
    DateBeforeBirth,
    DateInFuture,
    EmploymentOpen,
    PersonDeceased,
    PersonExists,
    PersonNotFound,
    RegistrationBeforeEmployment,
    RegistrationBeforeLastRegistration,
)
from services.registry.settings import RegistrySettings
from services.registry.tables import Person, UnemploymentRegistration

SOURCE = "/registry"


@dataclass
class PersonState:
    """A person with everything derived from them, as of one day."""

    person: AnyPerson
    registrations: list[RegistrationView]
    categories: list[DifficultyCategory]
    status: str
    ended_categories: list[DifficultyCategory]
    # The day it is as of (the bureau's today when it was worked out).
    as_of: date
    trainings: list[TrainingView] = field(default_factory=list)
    graduated_on: date | None = None
    # The first day the calendar alone may change the categories (date.max: none); see `settle`.
    due_on: date = date.max

    def registration_states(self) -> list[UnemploymentRegistrationState]:
        return [
            UnemploymentRegistrationState(
                registration_id=r.registration_id, registered_on=r.registered_on, closed_on=r.closed_on
            )
            for r in self.registrations
        ]

    def training_states(self) -> list[TrainingState]:
        return [TrainingState.model_validate(t, from_attributes=True) for t in self.trainings]


def published(categories: list[DifficultyCategory]) -> list[PublishedDifficulty]:
    """Categories as events show them: a sensitive one as `restricted_difficulty`, kind and source withheld."""
    return [
        PublishedDifficulty(
            category=RESTRICTED_DIFFICULTY, source="restricted", valid_from=c.valid_from, valid_until=c.valid_until
        )
        if c.category in SENSITIVE_CATEGORIES
        else PublishedDifficulty.model_validate(c.model_dump())
        for c in categories
    ]


def category_facts(facts: Sequence[FactView]) -> list[CategoryFact]:
    return [
        CategoryFact(grant.category, f.agency, grant.valid_from, grant.valid_until, bureau_date(f.received_at))
        for f in facts
        for grant in grants_of(f.code, f.attributes)
    ]


def own_graduation(person: AnyPerson) -> date | None:
    """The person's own `graduation_date` counts when their education is a college level (the
    levels are str-valued, so the stored string finds its level in the set)."""
    if person.graduation_date is None or person.education not in COLLEGE_LEVELS:
        return None
    return person.graduation_date


class PersonService:
    def __init__(
        self, session: AsyncSession, protector: IdNumberProtector, subject_key: bytes, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.session = session
        self.repo = PersonRepository(session)
        self.protector = protector
        self.subject_key = subject_key
        self.clock = clock

    def today(self) -> date:
        return self.clock.today()

    async def register(self, data: PersonCreate) -> PersonState:
        """Register a person once; a second registration of the same id number is a 409. The row is
        inserted skipping a duplicate, so a duplicate leaves the caller's transaction (a consumer's,
        say) intact."""
        index = self.protector.blind_index(data.id_number)
        person = NewPerson(
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
        # Facts that arrived before the person registered (identity, dibao, ...) apply now.
        facts = await self.repo.facts(person.subject_ref)
        for fact in facts:
            update = person_update_of(fact.code, fact.attributes)
            if update is not None:
                apply_person_update(person, update)
        if person.household_no is None:
            # The common case: the state is the person's alone, so the row goes in with its fingerprint.
            state = await self.state(person, fresh=True, facts=facts)
            settle(person, state)
        await self._insert(person, index)
        if person.household_no is not None:
            # Joining a household may list it in the queue, which gives this person a category too.
            await HouseholdService(self).refresh(person.household_no, changed_members={person.person_id})
            state = await self.state(person, fresh=True, facts=facts)
            settle(person, state)
            await self.session.execute(
                sa.update(PERSON)
                .where(PERSON.c.person_id == person.person_id)
                .values(published_categories=person.published_categories, categories_due_on=person.categories_due_on)
            )
        self.publish(state, events.PERSON_REGISTERED)
        return state

    async def _insert(self, person: NewPerson, index: str) -> None:
        # A Core INSERT that skips a duplicate instead of failing: the hot path of registration
        # needs neither the ORM unit of work nor a savepoint to survive the duplicate, and a
        # duplicate leaves the caller's transaction (a consumer's, say) intact.
        statement = insert_for(self.session, PERSON).on_conflict_do_nothing().returning(PERSON.c.person_id)
        if (await self.session.execute(statement, person.row())).first() is not None:
            return
        # The id number's blind index, or else its subject_ref (the blind index key was changed).
        winner = await self.repo.by_id_number_index(index) or await self.repo.by_subject_ref(person.subject_ref)
        if winner is None:  # another unique column: cannot happen with a fresh uuid4 as person_id
            raise RuntimeError("registration conflicted with no registered person")
        raise PersonExists("a person with this id number is already registered", person_id=str(winner.person_id))

    async def get(self, person_id: uuid.UUID, *, for_update: bool = False) -> Person:
        person = await self.repo.get(person_id, for_update=for_update)
        if person is None:
            raise PersonNotFound(f"no person {person_id}")
        return person

    async def read(self, person_id: uuid.UUID) -> PersonState:
        """The person as an answer reads them (no ORM object), with their state: one statement."""
        found = await self.repo.view(person_id)
        if found is None:
            raise PersonNotFound(f"no person {person_id}")
        return self.states_from_records([found])[0]

    async def state(
        self, person: AnyPerson, *, fresh: bool = False, facts: Sequence[FactView] | None = None
    ) -> PersonState:
        """The person as of today. `fresh` (being registered): no registration, employment or training
        can exist yet, so only the `facts` given and the household are read."""
        if not fresh:
            return (await self.states([person]))[0]
        since = await self.repo.zero_employment_since(person.household_no) if person.household_no else None
        return self.derive(person, PersonRecords([], False, [], list(facts or []), since), today=self.today())

    async def states(self, people: Sequence[AnyPerson]) -> list[PersonState]:
        """The states of many people in one statement, whatever their number."""
        records = await self.repo.records_of([p.person_id for p in people])
        return self.states_from_records([(p, records.get(p.person_id, NO_RECORDS)) for p in people])

    def states_from_records(self, people: Sequence[tuple[AnyPerson, PersonRecords]]) -> list[PersonState]:
        """The states of people read with their records (`PersonRepository.persons_page`, `view`)."""
        today = self.today()  # once: the clock costs more than deriving a state
        return [self.derive(person, records, today=today) for person, records in people]

    def derive(self, person: AnyPerson, records: PersonRecords, *, today: date) -> PersonState:
        registrations, facts = records.registrations, records.facts
        open_registration = next((r for r in registrations if r.closed_on is None), None)
        granted = category_facts(facts)
        graduated_on = next(
            (g.valid_from for g in granted if g.category == Category.recent_graduate),
            own_graduation(person),
        )
        derived = list(granted)
        if (own := own_graduation(person)) is not None:
            grant = graduate_grant(own)
            derived.append(CategoryFact(grant.category, "registry", grant.valid_from, grant.valid_until))
        if records.zero_employment_since is not None:
            derived.append(
                CategoryFact(Category.zero_employment_family, "registry", records.zero_employment_since, None)
            )
        inputs: CategoryInputs = {
            "facts": derived,
            "gender": person.gender,
            "birth_date": person.birth_date,
            "unemployed_since": open_registration.registered_on if open_registration else None,
        }
        status = "employed" if records.employed else "unemployed" if open_registration else "none"
        due_on = next_calendar_change(**inputs, today=today)
        return PersonState(
            person,
            registrations,
            active_categories(**inputs, today=today),
            status,
            ended_categories(facts=granted, today=today),
            today,
            records.trainings,
            graduated_on,
            due_on if due_on is not None else date.max,
        )

    def reveal_id_number(self, person: AnyPerson) -> str:
        return self.protector.decrypt(person.id_number_ciphertext)

    async def register_unemployment(self, person_id: uuid.UUID, registered_on: date) -> UnemploymentRegistration:
        person = await self.get(person_id, for_update=True)
        if person.deceased_on is not None:
            raise PersonDeceased("the person is recorded as deceased")
        if registered_on > self.today():
            raise DateInFuture("registered_on lies in the future")
        if registered_on < person.birth_date:
            raise DateBeforeBirth("registered_on lies before the person's birth date")
        if await self.repo.open_employments(person_id):
            raise EmploymentOpen(
                "a person with an open employment cannot register as unemployed; end the employment first"
            )
        # No backdating across what is on record: a registration cannot reach back before the
        # person's last employment, nor before an earlier registration was closed.
        last_worked = await self.repo.latest_employment_day(person_id)
        if last_worked is not None and registered_on < last_worked:
            raise RegistrationBeforeEmployment(
                f"registered_on lies before {last_worked}, the last day of an employment on record"
            )
        closed = [r.closed_on for r in await self.repo.registrations(person_id) if r.closed_on is not None]
        if closed and registered_on < max(closed):
            raise RegistrationBeforeLastRegistration(
                f"registered_on lies before {max(closed)}, when an earlier registration was closed"
            )
        current = await self.repo.open_registration(person_id)
        if current is not None:
            raise AlreadyRegisteredUnemployed(
                "the person is already registered as unemployed", registration_id=str(current.registration_id)
            )
        registration = UnemploymentRegistration(person_id=person_id, registered_on=registered_on)
        try:
            async with self.session.begin_nested():
                self.session.add(registration)
                await self.session.flush()
        except IntegrityError:
            raise AlreadyRegisteredUnemployed("the person is already registered as unemployed") from None
        await self.changed(person, events.PERSON_UPDATED)
        return registration

    async def changed(self, person: Person, event_type: str, *, refresh_household: bool = True) -> PersonState:
        """Bump the person's version and publish the new snapshot. The person's household is worked
        out again first (its members' categories may follow from this change)."""
        if refresh_household and person.household_no is not None:
            await HouseholdService(self).refresh(person.household_no, changed_members={person.person_id})
        person.version += 1
        person.updated_at = utcnow()
        state = await self.state(person)
        settle(person, state)
        self.session.add(person)
        self.publish(state, event_type)
        return state

    def publish(self, state: PersonState, event_type: str) -> None:
        person = state.person
        snapshot = PersonSnapshot(
            person_id=person.person_id,
            subject_ref=person.subject_ref,
            version=person.version,
            name_masked=mask_name(person.name),
            gender=person.gender,
            birth_year=person.birth_date.year,
            hukou_type=person.hukou_type,
            town=person.town,
            graduated_on=state.graduated_on,
            status=state.status,
            deceased_on=person.deceased_on,
            household_no=person.household_no,
            difficulty_categories=published(state.categories),
            unemployment_registrations=state.registration_states(),
            ended_difficulty_categories=published(state.ended_categories),
            trainings=state.training_states(),
        )
        key = str(person.person_id)
        add_event(
            self.session, REGISTRY_PERSON, key, new_event(source=SOURCE, type=event_type, subject=key, data=snapshot)
        )


def settle(person: WritablePerson, state: PersonState) -> None:
    """What the person is being published with: the categories' fingerprint, and the day the daily
    sweep must look at them again."""
    person.published_categories = fingerprint(state)
    person.categories_due_on = state.due_on


def note_due(person: Person, state: PersonState) -> None:
    """For a person not being published: the day the sweep must look at them, when it moved (a fact
    that starts next month changes nothing today)."""
    if person.categories_due_on != state.due_on:
        person.categories_due_on = state.due_on


def apply_person_update(person: WritablePerson, update: PersonUpdate) -> bool:
    """Apply what a fact changes on the person; True when anything changed."""
    before = (person.household_no, person.hukou_type, person.hukou_area_code, person.deceased_on)
    if update.household_no is not None and not (update.household_only_if_none and person.household_no):
        person.household_no = update.household_no
    if update.hukou_type is not None:
        person.hukou_type = update.hukou_type
    if update.hukou_area_code is not None:
        person.hukou_area_code = update.hukou_area_code
    if update.deceased_on is not None:
        person.deceased_on = update.deceased_on
    return before != (person.household_no, person.hukou_type, person.hukou_area_code, person.deceased_on)


PersonServiceFactory = Callable[[AsyncSession], PersonService]


def person_services(settings: RegistrySettings, clock: Clock = SYSTEM_CLOCK) -> PersonServiceFactory:
    """PersonService per session, with the keys read from settings once (the app, its consumer and
    tools that apply facts outside the app share this)."""
    protector = IdNumberProtector(
        settings.id_number_key.get_secret_value(), settings.blind_index_key.get_secret_value()
    )
    subject_key = settings.subject_key.get_secret_value().encode()
    return lambda session: PersonService(session, protector, subject_key, clock)
