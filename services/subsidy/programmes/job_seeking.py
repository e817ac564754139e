"""求职创业补贴: a graduating-year college student of a low-income family, a poor disabled family, a
registered rural poor household, or one of the extreme poor (the plan extends the subsidy to
贫困残疾人家庭、建档立卡贫困家庭高校毕业生和特困人员中的高校毕业生), is paid once to look for work or
start a business (1,000 CNY, a configurable default; the plan names no figure)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import ClassVar

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.registry import PersonSnapshot
from contracts.vocabulary import Category
from contracts.vocabulary import Programme as ProgrammeCode
from services.subsidy.programmes.base import (
    Applicant,
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
    graduating_year,
    not_granted_before,
)

# The families the plan names, in the order the evidence names them; `disabled` stands for the
# plan's 贫困残疾人家庭 (the registry knows the person's own certificate, not the family's).
POOR_FAMILY_CATEGORIES = (
    Category.low_income_family,
    Category.disabled,
    Category.rural_poor,
    Category.extreme_poverty,
)


class JobSeekingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SUBSIDY_JOB_SEEKING_", extra="ignore")

    # Not from the plan: 1,000 CNY, configurable (SPEC 2.3).
    amount_fen: int = Field(default=100_000, gt=0)


class JobSeekingClaim(Claim):
    """The application names the graduate and nothing more."""


@dataclass(frozen=True)
class JobSeekingEvidence:
    person: PersonSnapshot
    categories: Sequence[CategoryRecord]
    granted: Sequence[Grant]


class JobSeeking(Programme[JobSeekingClaim, JobSeekingEvidence]):
    code: ClassVar[ProgrammeCode] = ProgrammeCode.job_seeking
    name = "求职创业补贴"
    payee_role = "graduate"
    one_time = True
    claim_model = JobSeekingClaim
    settings_model = JobSeekingSettings

    def applicant_error(self, applicant: Applicant, beneficiary: uuid.UUID, claim: JobSeekingClaim) -> str | None:
        return person_applicant_error(applicant, beneficiary, "graduate")

    async def gather(
        self,
        facts: Facts,
        beneficiary: uuid.UUID,
        applicant: Applicant,
        claim: JobSeekingClaim,
        granted: Sequence[Grant],
    ) -> JobSeekingEvidence:
        person = await facts.person(beneficiary)
        if person is None:
            raise Missing(f"person {beneficiary}")
        return JobSeekingEvidence(person, await facts.categories(beneficiary), granted)

    def checks(self, evidence: JobSeekingEvidence, today: date) -> list[Check]:
        return [
            graduating_year(evidence.person, today),
            _poor_family(evidence.categories, today),
            not_granted_before("never_paid_before", evidence.granted, "this grant"),
            alive(evidence.person),
        ]

    def amount_fen(self, evidence: JobSeekingEvidence, today: date) -> int:
        return int(self.settings.amount_fen)

    def payee(self, evidence: JobSeekingEvidence, applicant: Applicant) -> Payee:
        return Payee("person", evidence.person.name_masked, person_id=evidence.person.person_id)


def poor_families(categories: Sequence[CategoryRecord], today: date) -> list[Category]:
    """Which of the plan's poor families the categories held today place a graduate in."""
    held = {c.category for c in categories if c.held_on_or_after(today, today)}
    return [code for code in POOR_FAMILY_CATEGORIES if code in held]


def _poor_family(categories: Sequence[CategoryRecord], today: date) -> Check:
    held = sorted((c for c in categories if c.held_on_or_after(today, today)), key=lambda c: c.category)
    not_held = sorted((c for c in categories if not c.held_on_or_after(today, today)), key=lambda c: c.category)
    evidence = f"categories held on {today.isoformat()}: " + ("; ".join(c.describe() for c in held) or "none")
    if not_held:
        evidence += "; not counted (ended or not yet started): " + "; ".join(c.describe() for c in not_held)
    families = poor_families(categories, today)
    if families:
        return Check("poor_family", True, f"holds {', '.join(code.value for code in families)}; {evidence}")
    needed = ", ".join(code.value for code in POOR_FAMILY_CATEGORIES)
    return Check("poor_family", False, f"holds none of {needed}; {evidence}")
