"""一次性创业补助: a graduating-year college graduate, or a registered unemployed person of a
low-income, zero-employment, registered rural poor or disabled family (the plan's 低保家庭人员、
零就业家庭人员、农村建卡贫困户人员、城乡残疾人员), who founded a first business, ran it as self-employed
for a year or more, employs 3 or more others and paid pension insurance, is paid once (5,000 CNY,
a configurable default; the plan names no figure)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import ClassVar

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.registry import EmploymentSnapshot, PersonSnapshot
from contracts.vocabulary import Category, EmploymentKind, Insurance
from contracts.vocabulary import Programme as ProgrammeCode
from services.kit.fields import CreditCode
from services.subsidy.programmes.base import (
    Applicant,
    BusinessRecord,
    Claim,
    Facts,
    Missing,
    Payee,
    Programme,
    person_applicant_error,
)
from services.subsidy.programmes.rules import (
    CategoryRecord,
    Check,
    Grant,
    alive,
    describe_registrations,
    full_months,
    graduating_year,
    month_of,
    not_granted_before,
    registered_unemployed_on,
)

REQUIRED_MONTHS = 12
REQUIRED_EMPLOYEES = 3
# The categories that, with an unemployment registration, make a founder one of the plan's groups.
FOUNDER_CATEGORIES = (
    Category.low_income_family,
    Category.zero_employment_family,
    Category.rural_poor,
    Category.disabled,
)


class StartupSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SUBSIDY_STARTUP_ONE_TIME_", extra="ignore")

    # Not from the plan: 5,000 CNY, configurable (SPEC 2.3).
    amount_fen: int = Field(default=500_000, gt=0)


class StartupClaim(Claim):
    business_credit_code: CreditCode = Field(description="The business the founder founded")


@dataclass(frozen=True)
class StartupEvidence:
    person: PersonSnapshot
    categories: Sequence[CategoryRecord]
    business: BusinessRecord
    # Every business whose legal representative is the beneficiary, this one included.
    founder_businesses: Sequence[BusinessRecord]
    # Every employment of the beneficiary, anywhere.
    founder_employments: Sequence[EmploymentSnapshot]
    # Every employment at the business's credit code, the founder's own included.
    business_employments: Sequence[EmploymentSnapshot]
    granted: Sequence[Grant]


class StartupOneTime(Programme[StartupClaim, StartupEvidence]):
    code: ClassVar[ProgrammeCode] = ProgrammeCode.startup_one_time
    name = "一次性创业补助"
    payee_role = "founder"
    one_time = True
    claim_model = StartupClaim
    settings_model = StartupSettings

    def applicant_error(self, applicant: Applicant, beneficiary: uuid.UUID, claim: StartupClaim) -> str | None:
        return person_applicant_error(applicant, beneficiary, "founder")

    async def gather(
        self, facts: Facts, beneficiary: uuid.UUID, applicant: Applicant, claim: StartupClaim, granted: Sequence[Grant]
    ) -> StartupEvidence:
        person = await facts.person(beneficiary)
        business = await facts.business(claim.business_credit_code)
        missing = [f"person {beneficiary}"] if person is None else []
        missing += [f"business {claim.business_credit_code}"] if business is None else []
        if person is None or business is None:
            raise Missing(*missing)
        return StartupEvidence(
            person=person,
            categories=await facts.categories(beneficiary),
            business=business,
            founder_businesses=await facts.businesses_of(person.subject_ref),
            founder_employments=await facts.employments_of(beneficiary),
            business_employments=await facts.employments_at(business.credit_code),
            granted=granted,
        )

    def checks(self, evidence: StartupEvidence, today: date) -> list[Check]:
        person, business = evidence.person, evidence.business
        own = founder_self_employment(evidence.founder_employments, person, business, today)
        return [
            _founder_is_legal_representative(person, business),
            _founder_group(person, evidence.categories, business, today),
            _first_business(business, evidence.founder_businesses),
            _self_employed_12_months(own, evidence.founder_employments, business, today),
            _employs_3(person, business, evidence.business_employments, today),
            _pension_paid(own, business, today),
            not_granted_before("never_paid_before", evidence.granted, "this grant"),
            alive(person),
        ]

    def amount_fen(self, evidence: StartupEvidence, today: date) -> int:
        return int(self.settings.amount_fen)

    def payee(self, evidence: StartupEvidence, applicant: Applicant) -> Payee:
        return Payee("person", evidence.person.name_masked, person_id=evidence.person.person_id)


def _describe_business(business: BusinessRecord) -> str:
    text = f"{business.credit_code} ({business.name}, established {business.established_on.isoformat()}"
    if business.deregistered_on is not None:
        text += f", deregistered {business.deregistered_on.isoformat()}"
    return text + ")"


def _founder_is_legal_representative(person: PersonSnapshot, business: BusinessRecord) -> Check:
    # The subject_ref is a pseudonym of the id number: compared, never printed.
    passed = business.legal_rep_subject_ref == person.subject_ref
    return Check(
        "founder_is_legal_representative",
        passed,
        f"business {_describe_business(business)}: the business's legal representative "
        + ("is the beneficiary" if passed else "is not the beneficiary"),
    )


def _founder_group(
    person: PersonSnapshot, categories: Sequence[CategoryRecord], business: BusinessRecord, today: date
) -> Check:
    established = business.established_on
    # 普通高校应届毕业生 founding: in their graduating year when the business was established (the
    # business must then run 12 months, so it cannot be the year of the application).
    graduate = graduating_year(person, established)
    registration = registered_unemployed_on(person, established)
    held = [c for c in categories if c.held_on_or_after(established, today)]
    ended = [c for c in categories if not c.held_on_or_after(established, today)]
    named = [code for code in FOUNDER_CATEGORIES if code in {c.category for c in held}]

    if registration is not None:
        closed = f"closed {registration.closed_on.isoformat()}" if registration.closed_on else "still open"
        unemployed = (
            f"registered unemployed on the establishment day {established.isoformat()} "
            f"(registered {registration.registered_on.isoformat()}, {closed})"
        )
    else:
        unemployed = (
            f"not registered unemployed on the establishment day {established.isoformat()} "
            f"(registrations: {describe_registrations(person)})"
        )
    categories_text = "; ".join(c.describe() for c in sorted(held, key=lambda c: c.category)) or "none"
    family = f"categories held at or after {established.isoformat()}: {categories_text}"
    if ended:
        family += "; not counted (ended before that day or not yet started): "
        family += "; ".join(c.describe() for c in sorted(ended, key=lambda c: c.category))

    groups: list[str] = []
    if graduate.passed:
        groups.append("graduating-year college graduate")
    if registration is not None and named:
        groups.append("registered unemployed with " + ", ".join(code.value for code in named))
    evidence = f"{graduate.detail}; {unemployed}; {family}"
    if groups:
        return Check("founder_group", True, f"{' and '.join(groups)}: {evidence}")
    needed = ", ".join(code.value for code in FOUNDER_CATEGORIES)
    return Check(
        "founder_group",
        False,
        f"neither a graduating-year college graduate nor registered unemployed holding one of {needed}: {evidence}",
    )


def _first_business(business: BusinessRecord, founder_businesses: Sequence[BusinessRecord]) -> Check:
    earlier = sorted(
        (
            b
            for b in founder_businesses
            if b.credit_code != business.credit_code and b.established_on < business.established_on
        ),
        key=lambda b: (b.established_on, b.credit_code),
    )
    if not earlier:
        return Check(
            "first_business",
            True,
            f"no business of the same legal representative established before {business.established_on.isoformat()}",
        )
    listed = "; ".join(_describe_business(b) for b in earlier)
    return Check(
        "first_business",
        False,
        f"the legal representative founded {len(earlier)} business(es) before "
        f"{business.established_on.isoformat()}: {listed}",
    )


def _last_day(employment: EmploymentSnapshot, today: date) -> date:
    return min(employment.ended_on, today) if employment.ended_on is not None else today


def operating_months(employment: EmploymentSnapshot, today: date) -> int:
    """Full months from the employment's start to its end or today, whichever comes first."""
    last_day = _last_day(employment, today)
    return full_months(employment.started_on, last_day) if last_day >= employment.started_on else 0


def founder_self_employment(
    employments: Sequence[EmploymentSnapshot], person: PersonSnapshot, business: BusinessRecord, today: date
) -> EmploymentSnapshot | None:
    """The beneficiary's `self_employed` employment at the business that ran longest (the earliest
    of equals): the one both `self_employed_12_months` and `pension_paid` read."""
    own = [
        e
        for e in employments
        if e.person_id == person.person_id
        and e.employer_credit_code == business.credit_code
        and e.kind == EmploymentKind.self_employed
    ]
    if not own:
        return None
    return min(own, key=lambda e: (-operating_months(e, today), e.started_on, str(e.employment_id)))


def _span(employment: EmploymentSnapshot, today: date) -> str:
    if employment.ended_on is not None and employment.ended_on <= today:
        return f"started {employment.started_on.isoformat()}, ended {employment.ended_on.isoformat()}"
    return f"started {employment.started_on.isoformat()}, still operating on {today.isoformat()}"


def _self_employed_12_months(
    own: EmploymentSnapshot | None,
    founder_employments: Sequence[EmploymentSnapshot],
    business: BusinessRecord,
    today: date,
) -> Check:
    if own is None:
        there = sorted(str(e.kind) for e in founder_employments if e.employer_credit_code == business.credit_code)
        seen = f"the beneficiary's employments there: {', '.join(there)}" if there else "no employment of theirs there"
        return Check(
            "self_employed_12_months",
            False,
            f"no self_employed employment of the beneficiary at {business.credit_code} ({seen})",
        )
    # A business deregistered by market supervision stopped operating then, whatever the registry says.
    until = today
    if business.deregistered_on is not None and business.deregistered_on <= today:
        until = business.deregistered_on - timedelta(days=1)
    months = operating_months(own, until)
    detail = (
        f"self_employed employment {own.employment_id} at {business.credit_code}, {_span(own, today)}: "
        f"{months} full months ({REQUIRED_MONTHS} needed)"
    )
    if until != today:
        detail += f"; the business was deregistered on {business.deregistered_on}"
    return Check("self_employed_12_months", months >= REQUIRED_MONTHS, detail)


def _open_on(employment: EmploymentSnapshot, today: date) -> bool:
    return employment.started_on <= today and (employment.ended_on is None or employment.ended_on > today)


def _employs_3(
    person: PersonSnapshot, business: BusinessRecord, employments: Sequence[EmploymentSnapshot], today: date
) -> Check:
    at_business = [e for e in employments if e.employer_credit_code == business.credit_code]
    others = [e for e in at_business if e.person_id != person.person_id]
    employed = {e.person_id for e in others if _open_on(e, today)}
    not_open = {e.person_id for e in others} - employed
    detail = (
        f"{len(employed)} other person(s) employed at {business.credit_code} on {today.isoformat()} "
        f"({REQUIRED_EMPLOYEES} needed)"
    )
    if not_open:
        detail += f"; {len(not_open)} more recorded there whose employment ended by then or starts later, not counted"
    return Check("employs_3", len(employed) >= REQUIRED_EMPLOYEES, detail)


def _pension_paid(own: EmploymentSnapshot | None, business: BusinessRecord, today: date) -> Check:
    if own is None:
        return Check(
            "pension_paid",
            False,
            f"no self_employed employment of the beneficiary at {business.credit_code} to have paid pension in "
            f"({REQUIRED_MONTHS} months needed)",
        )
    first, last = month_of(own.started_on), month_of(_last_day(own, today))
    paid = {m.month for m in own.contribution_months if Insurance.pension in m.insurances}
    inside = sorted(m for m in paid if first <= m <= last)
    outside = sorted(paid.difference(inside))
    if inside:
        detail = (
            f"{len(inside)} pension months paid in self_employed employment {own.employment_id} "
            f"({inside[0]}..{inside[-1]}; {REQUIRED_MONTHS} needed)"
        )
    else:
        detail = f"no pension month paid in self_employed employment {own.employment_id} ({REQUIRED_MONTHS} needed)"
    if outside:
        detail += f"; {len(outside)} recorded pension months outside {first}..{last} not counted"
    return Check("pension_paid", len(inside) >= REQUIRED_MONTHS, detail)
