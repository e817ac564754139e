"""参保职工技能提升补贴: an employee insured against unemployment for three years or more who obtained a
vocational qualification or skill-level certificate this year is paid by the certificate's level
("提升职业培训质量": 依法参加失业保险3年以上、当年取得职业资格证书或职业技能等级证书的企业职工).
The employee applies and is paid; a certificate is paid once."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import ClassVar

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.registry import EmploymentSnapshot, PersonSnapshot, TrainingState
from contracts.vocabulary import Insurance
from contracts.vocabulary import Programme as ProgrammeCode
from services.subsidy.programmes.base import Applicant, Claim, Facts, Missing, Payee, Programme, person_applicant_error
from services.subsidy.programmes.rules import Check, Grant, alive, not_granted_before

REQUIRED_MONTHS = 36  # 参加失业保险3年以上


class SkillsUpgradeSettings(BaseSettings):
    """The amount per certificate level, in fen (SPEC 2.3 defaults, not from the plan)."""

    model_config = SettingsConfigDict(env_prefix="SUBSIDY_SKILLS_UPGRADE_", extra="ignore")

    elementary_fen: int = Field(default=100_000, gt=0)
    intermediate_fen: int = Field(default=150_000, gt=0)
    advanced_fen: int = Field(default=200_000, gt=0)
    technician_fen: int = Field(default=250_000, gt=0)
    senior_technician_fen: int = Field(default=300_000, gt=0)


class SkillsUpgradeClaim(Claim):
    training_id: uuid.UUID = Field(description="The training, in the registry, whose certificate is claimed")


@dataclass(frozen=True)
class SkillsUpgradeEvidence:
    person: PersonSnapshot
    training: TrainingState
    employments: Sequence[EmploymentSnapshot]
    granted: Sequence[Grant]


class SkillsUpgrade(Programme[SkillsUpgradeClaim, SkillsUpgradeEvidence]):
    code: ClassVar[ProgrammeCode] = ProgrammeCode.skills_upgrade
    name = "参保职工技能提升补贴"
    payee_role = "employee"
    one_time = False
    claim_model = SkillsUpgradeClaim
    settings_model = SkillsUpgradeSettings

    def applicant_error(self, applicant: Applicant, beneficiary: uuid.UUID, claim: SkillsUpgradeClaim) -> str | None:
        return person_applicant_error(applicant, beneficiary, "employee")

    def units(self, claim: SkillsUpgradeClaim) -> list[str]:
        return [str(claim.training_id)]

    async def gather(
        self,
        facts: Facts,
        beneficiary: uuid.UUID,
        applicant: Applicant,
        claim: SkillsUpgradeClaim,
        granted: Sequence[Grant],
    ) -> SkillsUpgradeEvidence:
        person = await facts.person(beneficiary)
        if person is None:
            raise Missing(f"person {beneficiary}")
        training = next((t for t in person.trainings if t.training_id == claim.training_id), None)
        if training is None:
            raise Missing(f"training {claim.training_id}")
        employments = await facts.employments_of(beneficiary)
        return SkillsUpgradeEvidence(person, training, tuple(employments), tuple(granted))

    def checks(self, evidence: SkillsUpgradeEvidence, today: date) -> list[Check]:
        return [
            _certificate_obtained(evidence.training),
            _certificate_this_year(evidence.training, today),
            _unemployment_insured_36_months(evidence.employments),
            not_granted_before("certificate_not_paid_before", evidence.granted, "this certificate"),
            alive(evidence.person),
        ]

    def amount_fen(self, evidence: SkillsUpgradeEvidence, today: date) -> int:
        level = evidence.training.certificate_level
        if level is None:
            return 0  # no certificate: the application is ineligible anyway
        return int(getattr(self.settings, f"{level.value}_fen"))

    def payee(self, evidence: SkillsUpgradeEvidence, applicant: Applicant) -> Payee:
        return Payee("person", evidence.person.name_masked, person_id=evidence.person.person_id)


def unemployment_insured_months(employments: Sequence[EmploymentSnapshot]) -> list[str]:
    """The distinct months, sorted, with unemployment insurance paid in any of the employments."""
    return sorted(
        {
            record.month
            for employment in employments
            for record in employment.contribution_months
            if Insurance.unemployment in record.insurances
        }
    )


def _describe_training(training: TrainingState) -> str:
    provider = f", {training.provider}" if training.provider else ""
    return f"training {training.training_id} ({training.kind}{provider}, completed {training.completed_on.isoformat()})"


def _certificate_obtained(training: TrainingState) -> Check:
    if training.certificate_level is None:
        return Check("certificate_obtained", False, f"{_describe_training(training)} carries no certificate")
    return Check(
        "certificate_obtained",
        True,
        f"{_describe_training(training)} carries a certificate, level {training.certificate_level}",
    )


def _certificate_this_year(training: TrainingState, today: date) -> Check:
    passed = training.completed_on.year == today.year
    return Check(
        "certificate_this_year",
        passed,
        f"obtained on {training.completed_on.isoformat()}" + ("" if passed else f", not in {today.year}"),
    )


def _unemployment_insured_36_months(employments: Sequence[EmploymentSnapshot]) -> Check:
    insured = unemployment_insured_months(employments)
    if insured:
        detail = f"{len(insured)} distinct months with unemployment insurance paid ({insured[0]}..{insured[-1]})"
    else:
        detail = "no month with unemployment insurance paid"
    detail += f" across {len(employments)} employment{'' if len(employments) == 1 else 's'}; {REQUIRED_MONTHS} needed"
    return Check("unemployment_insured_36_months", len(insured) >= REQUIRED_MONTHS, detail)
