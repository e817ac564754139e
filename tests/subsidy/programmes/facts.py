"""An in-memory `Facts` for the programmes' pure unit tests: the projections as plain lists."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from contracts.registry import ContributionMonth, EmploymentSnapshot, PersonSnapshot, UnemploymentRegistrationState
from services.subsidy.programmes.base import BusinessRecord
from services.subsidy.programmes.rules import CategoryRecord


@dataclass
class MemoryFacts:
    persons: dict[uuid.UUID, PersonSnapshot] = field(default_factory=dict)
    category_history: dict[uuid.UUID, list[CategoryRecord]] = field(default_factory=dict)
    employments: dict[uuid.UUID, EmploymentSnapshot] = field(default_factory=dict)
    businesses: dict[str, BusinessRecord] = field(default_factory=dict)

    async def person(self, person_id: uuid.UUID) -> PersonSnapshot | None:
        return self.persons.get(person_id)

    async def categories(self, person_id: uuid.UUID) -> list[CategoryRecord]:
        return list(self.category_history.get(person_id, []))

    async def employment(self, employment_id: uuid.UUID) -> EmploymentSnapshot | None:
        return self.employments.get(employment_id)

    async def employments_of(self, person_id: uuid.UUID) -> list[EmploymentSnapshot]:
        return [e for e in self.employments.values() if e.person_id == person_id]

    async def employments_at(self, credit_code: str) -> list[EmploymentSnapshot]:
        return [e for e in self.employments.values() if e.employer_credit_code == credit_code]

    async def business(self, credit_code: str) -> BusinessRecord | None:
        return self.businesses.get(credit_code)

    async def businesses_of(self, subject_ref: str) -> list[BusinessRecord]:
        return [b for b in self.businesses.values() if b.legal_rep_subject_ref == subject_ref]


def person(**changes: Any) -> PersonSnapshot:
    """A living person with no category and no registration unless changed."""
    base: dict[str, Any] = {
        "person_id": uuid.uuid4(),
        "subject_ref": uuid.uuid4().hex * 2,
        "version": 1,
        "name_masked": "刘*梅",
        "gender": "female",
        "birth_year": 1990,
        "hukou_type": "urban",
        "town": "昌元街道",
        "status": "none",
        "difficulty_categories": [],
        "unemployment_registrations": [],
    }
    base.update(changes)
    return PersonSnapshot.model_validate(base)


def registration(registered_on: date, closed_on: date | None = None) -> UnemploymentRegistrationState:
    return UnemploymentRegistrationState(registration_id=uuid.uuid4(), registered_on=registered_on, closed_on=closed_on)


def months(first: str, count: int, insurances: tuple[str, ...] = ("pension", "medical")) -> list[ContributionMonth]:
    year, month = int(first[:4]), int(first[5:])
    return [
        ContributionMonth.model_validate(
            {"month": f"{year + (month - 1 + i) // 12:04d}-{(month - 1 + i) % 12 + 1:02d}", "insurances": insurances}
        )
        for i in range(count)
    ]


def employment(person_id: uuid.UUID, employer_credit_code: str, **changes: Any) -> EmploymentSnapshot:
    base: dict[str, Any] = {
        "employment_id": uuid.uuid4(),
        "person_id": person_id,
        "version": 1,
        "employer_credit_code": employer_credit_code,
        "employer_name": "荣昌陶瓷有限公司",
        "kind": "employee",
        "started_on": date(2018, 4, 1),
        "contribution_months": [],
    }
    base.update(changes)
    return EmploymentSnapshot.model_validate(base)


def category(code: str, valid_from: date = date(2018, 1, 1), **changes: Any) -> CategoryRecord:
    from services.subsidy.programmes.rules import held_category

    return CategoryRecord(held_category(code), changes.pop("source", "registry"), valid_from, **changes)
