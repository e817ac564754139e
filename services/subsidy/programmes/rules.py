"""What every programme's rules share, as pure functions of the facts (no database, no web).

Each rule yields a `Check` with the evidence it used, passed or failed, so a caseworker and an
auditor see why an application is eligible or not (SPEC 2.3).
"""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from contracts.registry import EmploymentSnapshot, PersonSnapshot, UnemploymentRegistrationState
from contracts.vocabulary import RESTRICTED_DIFFICULTY, Category, PublishedCategory


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
class Grant:
    """Something a programme grants a beneficiary once (`unit`: `once` for a one-time programme, a
    month, a training), already held by another application that was approved."""

    unit: str
    application_id: uuid.UUID
    status: str
    paid_on: date | None = None

    def describe(self) -> str:
        if self.paid_on is not None:
            return f"application {self.application_id} paid {self.paid_on.isoformat()}"
        return f"application {self.application_id} ({self.status})"


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


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def describe_categories(categories: Sequence[CategoryRecord]) -> str:
    return "; ".join(c.describe() for c in sorted(categories, key=lambda c: c.category)) or "none"


def employment_of_beneficiary(person: PersonSnapshot, employment: EmploymentSnapshot) -> Check:
    """The employment a claim names is the beneficiary's own."""
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


def alive(person: PersonSnapshot) -> Check:
    """A person reported deceased by public security receives no subsidy (SPEC 2.2)."""
    if person.deceased_on is None:
        return Check("alive", True, f"no death recorded (registry snapshot version {person.version})")
    return Check("alive", False, f"reported deceased on {person.deceased_on.isoformat()}")


def not_granted_before(rule: str, granted: Sequence[Grant], what: str) -> Check:
    """`what` (a grant, a month, a certificate) has not been granted to the beneficiary by another application."""
    if not granted:
        return Check(rule, True, f"no other application was granted {what} for this beneficiary")
    listed = "; ".join(f"{g.unit}: {g.describe()}" if g.unit != "once" else g.describe() for g in granted)
    return Check(rule, False, f"already granted for this beneficiary: {listed}")


def registered_unemployed_on(person: PersonSnapshot, day: date) -> UnemploymentRegistrationState | None:
    """The unemployment registration open on `day`, if any."""
    for registration in sorted(person.unemployment_registrations, key=lambda r: r.registered_on):
        if registration.registered_on <= day and (registration.closed_on is None or registration.closed_on >= day):
            return registration
    return None


def describe_registrations(person: PersonSnapshot) -> str:
    return (
        "; ".join(
            f"registered {r.registered_on.isoformat()}, closed {r.closed_on.isoformat() if r.closed_on else 'never'}"
            for r in sorted(person.unemployment_registrations, key=lambda r: r.registered_on)
        )
        or "none"
    )


def graduating_year(person: PersonSnapshot, today: date) -> Check:
    """A graduating-year college student or graduate: `graduated_on` in the current calendar year (SPEC 2.2)."""
    if person.graduated_on is None:
        return Check(
            "graduating_year", False, "no college graduation on record (education `graduate` fact or graduation_date)"
        )
    passed = person.graduated_on.year == today.year
    return Check(
        "graduating_year",
        passed,
        f"graduates on {person.graduated_on.isoformat()}" + ("" if passed else f", not in {today.year}"),
    )
