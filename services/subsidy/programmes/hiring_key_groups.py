"""一次性吸纳重点群体就业岗位补贴: an employer who hired a person of the plan's five key groups from
the unemployment register, kept them 12 months and paid 12 months of social insurance, is paid once
per person (6,000 CNY, the plan's figure)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import ClassVar

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.registry import EmploymentSnapshot, PersonSnapshot
from contracts.vocabulary import Category, EmploymentKind, PublishedCategory
from contracts.vocabulary import Programme as ProgrammeCode
from services.subsidy.programmes.base import Applicant, Claim, Facts, Missing, Payee, Programme
from services.subsidy.programmes.rules import (
    CategoryRecord,
    Check,
    Grant,
    alive,
    employment_of_beneficiary,
    full_months,
    month_of,
    not_granted_before,
)

REQUIRED_MONTHS = 12
# Difficulty categories that make a recent graduate a "poor" one (高校贫困毕业生).
POOR_GRADUATE_CATEGORIES = frozenset(
    {Category.low_income_family, Category.rural_poor, Category.extreme_poverty, Category.disabled}
)
# Categories that are a key group on their own, in the order the evidence names them.
SINGLE_CATEGORY_GROUPS = (Category.low_income_family, Category.zero_employment_family, Category.rural_poor)


class HiringSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SUBSIDY_HIRING_KEY_GROUPS_", extra="ignore")

    # The plan's figure: 6,000 CNY per person.
    amount_fen: int = Field(default=600_000, gt=0)


class HiringClaim(Claim):
    employment_id: uuid.UUID = Field(description="The employment the hiring subsidy is for")


@dataclass(frozen=True)
class HiringEvidence:
    person: PersonSnapshot
    categories: Sequence[CategoryRecord]
    employment: EmploymentSnapshot
    employer_credit_code: str | None
    granted: Sequence[Grant]


class HiringKeyGroups(Programme[HiringClaim, HiringEvidence]):
    code: ClassVar[ProgrammeCode] = ProgrammeCode.hiring_key_groups
    name = "一次性吸纳重点群体就业岗位补贴"
    payee_role = "employer"
    one_time = True
    claim_model = HiringClaim
    settings_model = HiringSettings

    def applicant_error(self, applicant: Applicant, beneficiary: uuid.UUID, claim: HiringClaim) -> str | None:
        if applicant.kind != "employer":
            return "hiring_key_groups pays the employer: the applicant must be an employer with its credit_code"
        return None

    async def gather(
        self, facts: Facts, beneficiary: uuid.UUID, applicant: Applicant, claim: HiringClaim, granted: Sequence[Grant]
    ) -> HiringEvidence:
        person = await facts.person(beneficiary)
        employment = await facts.employment(claim.employment_id)
        missing = [f"person {beneficiary}"] if person is None else []
        missing += [f"employment {claim.employment_id}"] if employment is None else []
        if person is None or employment is None:
            raise Missing(*missing)
        return HiringEvidence(person, await facts.categories(beneficiary), employment, applicant.credit_code, granted)

    def checks(self, evidence: HiringEvidence, today: date) -> list[Check]:
        person, employment = evidence.person, evidence.employment
        return [
            employment_of_beneficiary(person, employment),
            _employment_with_applicant(employment, evidence.employer_credit_code or ""),
            _hired_as_employee(employment),
            _registered_unemployed_when_hired(person, employment),
            _key_group(evidence.categories, employment.started_on, today),
            _employed_12_months(employment, today),
            _insured_12_months(employment, today),
            not_granted_before("never_paid_before", evidence.granted, "this grant"),
            alive(person),
        ]

    def amount_fen(self, evidence: HiringEvidence, today: date) -> int:
        return int(self.settings.amount_fen)

    def payee(self, evidence: HiringEvidence, applicant: Applicant) -> Payee:
        return Payee("employer", evidence.employment.employer_name, credit_code=applicant.credit_code)


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
    first, last = month_of(employment.started_on), month_of(_last_day(employment, today))
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
