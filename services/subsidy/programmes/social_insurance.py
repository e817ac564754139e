"""社会保险补贴: a person with a difficulty category whose social insurance was paid, in an employment
or in flexible work, has each claimed month's contributions subsidised, per insurance covered.

Pension, medical and unemployment insurance are covered for everyone; the plan ("实施就业援助")
extends the subsidy to work injury and maternity insurance for four groups: `age_4050`,
`low_income_family`, `zero_employment_family` and `recent_graduate`. The employer is paid, or the
flexible worker themself. A month is paid at most once per beneficiary across applications."""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import ClassVar

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.fields import Month
from contracts.registry import EmploymentSnapshot, PersonSnapshot
from contracts.vocabulary import Category, EmploymentKind, Insurance
from contracts.vocabulary import Programme as ProgrammeCode
from services.subsidy.programmes.base import Applicant, Claim, Facts, Missing, Payee, Programme
from services.subsidy.programmes.rules import (
    CategoryRecord,
    Check,
    Grant,
    alive,
    describe_categories,
    employment_of_beneficiary,
    month_of,
    not_granted_before,
)

MAX_MONTHS = 36
# Covered for every beneficiary with a difficulty category, in the order the evidence names them.
BASE_INSURANCES = (Insurance.pension, Insurance.medical, Insurance.unemployment)
# The plan's extension: work injury and maternity too, for these four groups.
EXTENDED_INSURANCES = (Insurance.work_injury, Insurance.maternity)
EXTENSION_GROUPS = (
    Category.age_4050,
    Category.low_income_family,
    Category.zero_employment_family,
    Category.recent_graduate,
)


class SocialInsuranceSettings(BaseSettings):
    """Per month claimed, per insurance covered, in fen (SPEC 2.3 defaults, not from the plan)."""

    model_config = SettingsConfigDict(env_prefix="SUBSIDY_SOCIAL_INSURANCE_", extra="ignore")

    pension_fen: int = Field(default=50_000, gt=0)
    medical_fen: int = Field(default=20_000, gt=0)
    unemployment_fen: int = Field(default=2_500, gt=0)
    work_injury_fen: int = Field(default=1_000, gt=0)
    maternity_fen: int = Field(default=1_000, gt=0)


class SocialInsuranceClaim(Claim):
    employment_id: uuid.UUID = Field(description="The employment (or flexible work) whose contributions are claimed")
    months: list[Month] = Field(
        min_length=1, max_length=MAX_MONTHS, description="The months claimed, `YYYY-MM`, each once; kept sorted"
    )

    @field_validator("months")
    @classmethod
    def _distinct_and_sorted(cls, months: list[str]) -> list[str]:
        repeated = sorted({m for m in months if months.count(m) > 1})
        if repeated:
            raise ValueError(f"each month is claimed once; repeated: {', '.join(repeated)}")
        return sorted(months)


@dataclass(frozen=True)
class SocialInsuranceEvidence:
    person: PersonSnapshot
    categories: Sequence[CategoryRecord]
    employment: EmploymentSnapshot
    applicant: Applicant
    months: Sequence[str]
    granted: Sequence[Grant]

    @property
    def first_day(self) -> date:
        """The first day of the first claimed month."""
        first = min(self.months)
        return date(int(first[:4]), int(first[5:]), 1)


class SocialInsurance(Programme[SocialInsuranceClaim, SocialInsuranceEvidence]):
    code: ClassVar[ProgrammeCode] = ProgrammeCode.social_insurance
    name = "社会保险补贴"
    payee_role = "employer_or_flexible_worker"
    one_time = False
    claim_model = SocialInsuranceClaim
    settings_model = SocialInsuranceSettings

    def applicant_error(self, applicant: Applicant, beneficiary: uuid.UUID, claim: SocialInsuranceClaim) -> str | None:
        # Whether an employer applicant is the employment's employer is the `payee_rule` check:
        # the employment is known only once gathered.
        if applicant.kind == "person" and applicant.person_id != beneficiary:
            return (
                "social_insurance pays the employer, or the flexible worker themself: "
                "a person applicant must be the beneficiary, with its person_id"
            )
        return None

    def units(self, claim: SocialInsuranceClaim) -> list[str]:
        return list(claim.months)

    async def gather(
        self,
        facts: Facts,
        beneficiary: uuid.UUID,
        applicant: Applicant,
        claim: SocialInsuranceClaim,
        granted: Sequence[Grant],
    ) -> SocialInsuranceEvidence:
        person = await facts.person(beneficiary)
        employment = await facts.employment(claim.employment_id)
        missing = [f"person {beneficiary}"] if person is None else []
        missing += [f"employment {claim.employment_id}"] if employment is None else []
        if person is None or employment is None:
            raise Missing(*missing)
        categories = await facts.categories(beneficiary)
        return SocialInsuranceEvidence(person, categories, employment, applicant, tuple(claim.months), tuple(granted))

    def checks(self, evidence: SocialInsuranceEvidence, today: date) -> list[Check]:
        person, employment = evidence.person, evidence.employment
        return [
            employment_of_beneficiary(person, employment),
            _payee_rule(person, employment, evidence.applicant),
            _has_difficulty(evidence.categories, evidence.months, today),
            _months_in_employment(employment, evidence.months, today),
            _months_paid(employment, evidence.categories, evidence.months, today),
            not_granted_before("months_not_paid_before", evidence.granted, "these months"),
            _insurances_covered(evidence.categories, evidence.months, today),
            alive(person),
        ]

    def rates(self) -> dict[Insurance, int]:
        """The configured amount per month for each insurance, in fen."""
        return {insurance: int(getattr(self.settings, f"{insurance.value}_fen")) for insurance in Insurance}

    def amount_fen(self, evidence: SocialInsuranceEvidence, today: date) -> int:
        paid = paid_insurances(evidence.employment)
        rates = self.rates()
        return sum(
            rates[insurance]
            for month in evidence.months
            for insurance in set(covered_insurances(evidence.categories, month, today)).intersection(
                paid.get(month, frozenset())
            )
        )

    def payee(self, evidence: SocialInsuranceEvidence, applicant: Applicant) -> Payee:
        employment = evidence.employment
        if employment.kind == EmploymentKind.flexible:
            return Payee("person", evidence.person.name_masked, person_id=evidence.person.person_id)
        return Payee("employer", employment.employer_name, credit_code=employment.employer_credit_code)


def _month_span(month: str) -> tuple[date, date]:
    year, number = int(month[:4]), int(month[5:])
    return date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1])


def held_in(categories: Sequence[CategoryRecord], month: str, today: date) -> list[CategoryRecord]:
    """The categories held at some time during `month` (and started by today)."""
    first, last = _month_span(month)
    return [c for c in categories if c.valid_from <= last and c.held_on_or_after(first, today)]


def covered_insurances(categories: Sequence[CategoryRecord], month: str, today: date) -> list[Insurance]:
    """The insurances the subsidy covers in `month` for a beneficiary holding `categories`."""
    held = {c.category for c in held_in(categories, month, today)}
    extended = any(group in held for group in EXTENSION_GROUPS)
    return list(BASE_INSURANCES + EXTENDED_INSURANCES) if extended else list(BASE_INSURANCES)


def paid_insurances(employment: EmploymentSnapshot) -> dict[str, frozenset[Insurance]]:
    """The insurances paid in each month the employment records (a month recorded twice: both)."""
    paid: dict[str, frozenset[Insurance]] = {}
    for record in employment.contribution_months:
        paid[record.month] = paid.get(record.month, frozenset()).union(record.insurances)
    return paid


def _payee_rule(person: PersonSnapshot, employment: EmploymentSnapshot, applicant: Applicant) -> Check:
    if applicant.kind == "person":
        who = f"person {applicant.person_id}"
    else:
        who = f"employer {applicant.credit_code}"
    if employment.kind == EmploymentKind.flexible:
        passed = applicant.kind == "person" and applicant.person_id == person.person_id
        expected = f"flexible work pays the worker: the applicant must be the beneficiary {person.person_id}"
    else:
        passed = applicant.kind == "employer" and applicant.credit_code == employment.employer_credit_code
        expected = (
            f"{employment.kind} employment pays the employer: the applicant must be "
            f"{employment.employer_credit_code} ({employment.employer_name})"
        )
    return Check("payee_rule", passed, f"{expected}; the applicant is {who}")


def _has_difficulty(categories: Sequence[CategoryRecord], months: Sequence[str], today: date) -> Check:
    """A difficulty category (a restricted one counts) held during each claimed month."""
    without = [m for m in months if not held_in(categories, m, today)]
    if without:
        return Check(
            "has_difficulty",
            False,
            f"no difficulty category held in {', '.join(without)}; categories on record: "
            f"{describe_categories(categories)}",
        )
    held = {c for m in months for c in held_in(categories, m, today)}
    return Check(
        "has_difficulty",
        True,
        f"a difficulty category held in each claimed month: {describe_categories(sorted(held, key=str))}",
    )


def _months_in_employment(employment: EmploymentSnapshot, months: Sequence[str], today: date) -> Check:
    first = month_of(employment.started_on)
    if employment.ended_on is not None and employment.ended_on <= today:
        last = month_of(employment.ended_on)
        span = f"employment {first}..{last} (started {employment.started_on.isoformat()}, "
        span += f"ended {employment.ended_on.isoformat()})"
    else:
        last = month_of(today)
        span = f"employment {first}..{last} (started {employment.started_on.isoformat()}, "
        span += f"not ended on {today.isoformat()})"
    outside = [m for m in months if not first <= m <= last]
    if outside:
        return Check("months_in_employment", False, f"claimed months outside the {span}: {', '.join(outside)}")
    return Check("months_in_employment", True, f"all {len(months)} claimed months lie within the {span}")


def _months_paid(
    employment: EmploymentSnapshot, categories: Sequence[CategoryRecord], months: Sequence[str], today: date
) -> Check:
    """Each claimed month has a contribution to an insurance the subsidy covers in that month."""
    paid = paid_insurances(employment)
    unpaid = [m for m in months if not set(covered_insurances(categories, m, today)).intersection(paid.get(m, ()))]
    if unpaid:

        def why(month: str) -> str:
            if month not in paid:
                return "not recorded"
            if not paid[month]:
                return "recorded with no insurance"
            return "only " + ", ".join(i for i in Insurance if i in paid[month]) + ", not covered"

        listed = ", ".join(f"{m} ({why(m)})" for m in unpaid)
        return Check(
            "months_paid", False, f"no covered contribution paid in employment {employment.employment_id} for: {listed}"
        )
    listed = "; ".join(f"{m} ({', '.join(i for i in Insurance if i in paid[m])})" for m in months)
    return Check("months_paid", True, f"contributions paid in employment {employment.employment_id}: {listed}")


def _insurances_covered(categories: Sequence[CategoryRecord], months: Sequence[str], today: date) -> Check:
    extended = [m for m in months if len(covered_insurances(categories, m, today)) > len(BASE_INSURANCES)]
    detail = f"covered: {', '.join(BASE_INSURANCES)} in every claimed month"
    if extended:
        held = {
            str(c.category) for m in extended for c in held_in(categories, m, today) if c.category in EXTENSION_GROUPS
        }
        detail += f"; work injury and maternity too in {', '.join(extended)} ({', '.join(sorted(held))} held)"
    else:
        detail += f"; work injury and maternity only for {', '.join(EXTENSION_GROUPS)}, none held in the claimed months"
    return Check("insurances_covered", True, detail)
