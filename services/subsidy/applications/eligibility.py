"""The eligibility rules of the programmes, as pure functions of the facts (no database, no web).

Each rule yields a `Check` with the evidence it used, passed or failed, so a caseworker and an
auditor see why an application is eligible or not (SPEC 2.3).
"""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from contracts.registry import EmploymentSnapshot, PersonSnapshot
from contracts.vocabulary import RESTRICTED_DIFFICULTY, Category, EmploymentKind, PublishedCategory

REQUIRED_MONTHS = 12
# Difficulty categories that make a recent graduate a "poor" one (高校贫困毕业生).
POOR_GRADUATE_CATEGORIES = frozenset(
    {Category.low_income_family, Category.rural_poor, Category.extreme_poverty, Category.disabled}
)
# Categories that are a key group on their own, in the order the evidence names them.
SINGLE_CATEGORY_GROUPS = (Category.low_income_family, Category.zero_employment_family, Category.rural_poor)


def held_category(code: str) -> PublishedCategory:
    """The category of a stored code; a code outside the vocabulary is a bug (the projection
    stores only what validated as a `PublishedDifficulty`)."""
    return RESTRICTED_DIFFICULTY if code == RESTRICTED_DIFFICULTY else Category(code)


@dataclass(frozen=True)
class Check:
    rule: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class CategoryRecord:
    """A difficulty category as the registry listed it, and when it stopped listing it, if it did."""

    category: PublishedCategory
    source: str
    valid_from: date
    valid_until: date | None = None
    withdrawn_on: date | None = None

    def held_on_or_after(self, day: date, today: date) -> bool:
        """Listed by the registry, started by today, and not ended before `day`."""
        return (
            self.valid_from <= today
            and (self.valid_until is None or self.valid_until >= day)
            and (self.withdrawn_on is None or self.withdrawn_on >= day)
        )

    def describe(self) -> str:
        until = self.valid_until.isoformat() if self.valid_until else "open"
        text = f"{self.category} [{self.source}, {self.valid_from.isoformat()}..{until}"
        if self.withdrawn_on is not None:
            text += f", no longer listed from {self.withdrawn_on.isoformat()}"
        return text + "]"


@dataclass(frozen=True)
class EarlierGrant:
    """An earlier paid application of the same programme for the same beneficiary."""

    application_id: uuid.UUID
    paid_on: date | None


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it has no such day."""
    years, month_index = divmod(day.month - 1 + months, 12)
    year, month = day.year + years, month_index + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def full_months(first_day: date, last_day: date) -> int:
    """Whole months covered by the days `first_day`..`last_day` inclusive."""
    months = 0
    while add_months(first_day, months + 1) <= last_day + timedelta(days=1):
        months += 1
    return months


def _month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def evaluate_hiring_key_groups(
    *,
    person: PersonSnapshot,
    categories: Sequence[CategoryRecord],
    employment: EmploymentSnapshot,
    employer_credit_code: str,
    earlier_grants: Sequence[EarlierGrant],
    today: date,
) -> list[Check]:
    """一次性吸纳重点群体就业岗位补贴: every rule of SPEC 2.3, each with its evidence."""
    return [
        Check(
            "beneficiary_known",
            True,
            f"person {person.person_id} known from registry snapshot version {person.version}",
        ),
        _employment_of_beneficiary(person, employment),
        _employment_with_applicant(employment, employer_credit_code),
        _hired_as_employee(employment),
        _registered_unemployed_when_hired(person, employment),
        _key_group(categories, employment.started_on, today),
        _employed_12_months(employment, today),
        _insured_12_months(employment, today),
        _never_paid_before(earlier_grants),
        _alive(person),
    ]


def _employment_of_beneficiary(person: PersonSnapshot, employment: EmploymentSnapshot) -> Check:
    if employment.person_id == person.person_id:
        return Check(
            "employment_of_beneficiary", True, f"employment {employment.employment_id} is person {person.person_id}'s"
        )
    return Check(
        "employment_of_beneficiary",
        False,
        f"employment {employment.employment_id} belongs to person {employment.person_id}, "
        f"not to the beneficiary {person.person_id}",
    )


def _employment_with_applicant(employment: EmploymentSnapshot, employer_credit_code: str) -> Check:
    if employment.employer_credit_code == employer_credit_code:
        return Check(
            "employment_with_applicant",
            True,
            f"employer {employment.employer_credit_code} ({employment.employer_name}) is the applicant",
        )
    return Check(
        "employment_with_applicant",
        False,
        f"the employment is with {employment.employer_credit_code} ({employment.employer_name}), "
        f"not with the applicant {employer_credit_code}",
    )


def _hired_as_employee(employment: EmploymentSnapshot) -> Check:
    # Self-employment and public-welfare posts have their own subsidies; this one rewards hiring.
    passed = employment.kind == EmploymentKind.employee
    return Check(
        "hired_as_employee", passed, f"employment kind is {employment.kind}" + ("" if passed else ", not employee")
    )


def _registered_unemployed_when_hired(person: PersonSnapshot, employment: EmploymentSnapshot) -> Check:
    hired = employment.started_on
    for registration in sorted(person.unemployment_registrations, key=lambda r: r.registered_on):
        if registration.registered_on <= hired and (registration.closed_on is None or registration.closed_on >= hired):
            closed = registration.closed_on.isoformat() if registration.closed_on else "still open"
            return Check(
                "registered_unemployed_when_hired",
                True,
                f"hired on {hired.isoformat()} under unemployment registration {registration.registration_id} "
                f"(registered {registration.registered_on.isoformat()}, closed {closed})",
            )
    seen = (
        "; ".join(
            f"registered {r.registered_on.isoformat()}, closed {r.closed_on.isoformat() if r.closed_on else 'never'}"
            for r in sorted(person.unemployment_registrations, key=lambda r: r.registered_on)
        )
        or "none"
    )
    return Check(
        "registered_unemployed_when_hired",
        False,
        f"no unemployment registration open on the hiring date {hired.isoformat()}; registrations: {seen}",
    )


def key_groups(categories: Sequence[CategoryRecord], hired_on: date, today: date) -> list[str]:
    """Which of the plan's five key groups the categories held at hiring (or since) place a person in.

    A `restricted_difficulty` is a difficulty (it makes a capacity-reduction worker one "with a
    difficulty") but none of the named categories the other groups ask for."""
    held: set[PublishedCategory] = {c.category for c in categories if c.held_on_or_after(hired_on, today)}
    groups: list[str] = []
    if Category.recent_graduate in held and held.intersection(POOR_GRADUATE_CATEGORIES):
        groups.append("poor_recent_graduate")
    groups.extend(code.value for code in SINGLE_CATEGORY_GROUPS if code in held)
    # 就业困难的去产能企业职工: a capacity-reduction worker who also holds another difficulty category.
    if Category.capacity_reduction_worker in held and held - {Category.capacity_reduction_worker}:
        groups.append(Category.capacity_reduction_worker.value)
    return groups


def _key_group(categories: Sequence[CategoryRecord], hired_on: date, today: date) -> Check:
    held = [c for c in categories if c.held_on_or_after(hired_on, today)]
    ended = [c for c in categories if not c.held_on_or_after(hired_on, today)]
    groups = key_groups(categories, hired_on, today)
    evidence = "categories held at or after hiring on " + hired_on.isoformat() + ": "
    evidence += "; ".join(c.describe() for c in sorted(held, key=lambda c: c.category)) or "none"
    if ended:
        evidence += "; not counted (ended before hiring or not yet started): "
        evidence += "; ".join(c.describe() for c in sorted(ended, key=lambda c: c.category))
    if groups:
        return Check("key_group", True, f"key group {', '.join(groups)}; {evidence}")
    return Check("key_group", False, f"in none of the five key groups; {evidence}")


def _last_day(employment: EmploymentSnapshot, today: date) -> date:
    return min(employment.ended_on, today) if employment.ended_on is not None else today


def _employed_12_months(employment: EmploymentSnapshot, today: date) -> Check:
    last_day = _last_day(employment, today)
    months = full_months(employment.started_on, last_day) if last_day >= employment.started_on else 0
    if employment.ended_on is not None and employment.ended_on <= today:
        span = f"started {employment.started_on.isoformat()}, ended {employment.ended_on.isoformat()}"
    else:
        span = f"started {employment.started_on.isoformat()}, still employed on {today.isoformat()}"
    return Check(
        "employed_12_months",
        months >= REQUIRED_MONTHS,
        f"{span}: {months} full months ({REQUIRED_MONTHS} needed)",
    )


def _insured_12_months(employment: EmploymentSnapshot, today: date) -> Check:
    first, last = _month(employment.started_on), _month(_last_day(employment, today))
    paid = {m.month for m in employment.contribution_months if m.insurances}
    inside = sorted(m for m in paid if first <= m <= last)
    outside = sorted(paid.difference(inside))
    if inside:
        detail = f"{len(inside)} months paid in this employment ({inside[0]}..{inside[-1]}; {REQUIRED_MONTHS} needed)"
    else:
        detail = f"no social-insurance month paid in this employment ({REQUIRED_MONTHS} needed)"
    if outside:
        detail += f"; {len(outside)} recorded months outside {first}..{last} not counted"
    return Check("insured_12_months", len(inside) >= REQUIRED_MONTHS, detail)


def _never_paid_before(earlier: Sequence[EarlierGrant]) -> Check:
    if not earlier:
        return Check("never_paid_before", True, "no earlier payment of this programme for the beneficiary")
    grants = "; ".join(
        f"application {g.application_id}" + (f" paid {g.paid_on.isoformat()}" if g.paid_on else "") for g in earlier
    )
    return Check("never_paid_before", False, f"already paid for this beneficiary: {grants}")


def _alive(person: PersonSnapshot) -> Check:
    if person.deceased_on is None:
        return Check("alive", True, f"no death recorded (registry snapshot version {person.version})")
    return Check("alive", False, f"reported deceased on {person.deceased_on.isoformat()}")
