"""What a subsidy programme is to the rest of the service: a strategy with its claim, its payee, its
once-only units, the evidence it gathers from the projections, and pure checks over that evidence.

The application service, the approval and the payment flow work only through `Programme`; a new
programme is one module under `programmes/` plus one line in `programmes/registry.py`.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar, Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic_settings import BaseSettings

from contracts.registry import EmploymentSnapshot, PersonSnapshot
from contracts.vocabulary import Programme as ProgrammeCode
from services.subsidy.programmes.rules import CategoryRecord, Check, Grant

PayeeRole = Literal["employer", "founder", "employer_or_flexible_worker", "employee", "graduate"]


class Claim(BaseModel):
    """What an application names besides the beneficiary (SPEC 2.3); each programme narrows it."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Applicant:
    kind: Literal["employer", "person"]
    credit_code: str | None = None
    person_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Payee:
    """Who the treasury pays, and the name a public notice shows for them."""

    kind: Literal["employer", "person"]
    name: str
    credit_code: str | None = None
    person_id: uuid.UUID | None = None


@dataclass(frozen=True)
class BusinessRecord:
    """A business from market supervision (市场监管), with its legal representative's subject_ref."""

    credit_code: str
    name: str
    legal_rep_subject_ref: str
    established_on: date
    deregistered_on: date | None = None


class Facts(Protocol):
    """The subsidy service's projections of the registry and of sharing, read-only."""

    async def person(self, person_id: uuid.UUID) -> PersonSnapshot | None: ...

    async def categories(self, person_id: uuid.UUID) -> list[CategoryRecord]: ...

    async def employment(self, employment_id: uuid.UUID) -> EmploymentSnapshot | None: ...

    async def employments_of(self, person_id: uuid.UUID) -> list[EmploymentSnapshot]: ...

    async def employments_at(self, credit_code: str) -> list[EmploymentSnapshot]: ...

    async def business(self, credit_code: str) -> BusinessRecord | None: ...

    async def businesses_of(self, subject_ref: str) -> list[BusinessRecord]: ...


class Missing(Exception):
    """The evidence names something the projections have not seen (yet): the application waits."""

    def __init__(self, *what: str) -> None:
        super().__init__("; ".join(what))
        self.what = list(what)


ClaimT = TypeVar("ClaimT", bound=Claim)
EvidenceT = TypeVar("EvidenceT")


@dataclass(frozen=True)
class Judgement:
    checks: list[Check]
    amount_fen: int
    # None when the application could not be judged (its beneficiary is unknown).
    payee: Payee | None

    @property
    def eligible(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failed_rules(self) -> list[str]:
        return [c.rule for c in self.checks if not c.passed]


class Programme(ABC, Generic[ClaimT, EvidenceT]):
    """One subsidy programme of the plan. Subclasses set the class attributes and implement
    `gather` (async, reads the projections) and `checks` / `amount_fen` / `payee` (pure)."""

    code: ClassVar[ProgrammeCode]
    name: ClassVar[str]
    payee_role: ClassVar[PayeeRole]
    one_time: ClassVar[bool]
    claim_model: ClassVar[type[Claim]]
    settings_model: ClassVar[type[BaseSettings]]

    def __init__(self, settings: BaseSettings | None = None) -> None:
        self.settings: Any = settings if settings is not None else self.settings_model()

    @property
    def amounts(self) -> dict[str, int]:
        """The programme's configured amounts in fen, by name, for the catalogue."""
        return {name: value for name, value in self.settings.model_dump().items() if name.endswith("_fen")}

    def parse_claim(self, fields: dict[str, Any]) -> ClaimT:
        """The claim from the application's fields that are set; pydantic's ValidationError when it
        lacks what the programme needs or names what it does not take."""
        return self.claim_model.model_validate(fields)  # type: ignore[return-value]

    @abstractmethod
    def applicant_error(self, applicant: Applicant, beneficiary: uuid.UUID, claim: ClaimT) -> str | None:
        """Why this applicant may not apply (the payee rule), or None."""

    def units(self, claim: ClaimT) -> list[str]:
        """What a grant uses up for the beneficiary, each at most once across applications: `once`
        for a one-time programme; a programme paid per month or per certificate says which."""
        return ["once"]

    @abstractmethod
    async def gather(
        self, facts: Facts, beneficiary: uuid.UUID, applicant: Applicant, claim: ClaimT, granted: Sequence[Grant]
    ) -> EvidenceT:
        """Everything the checks need, read from the projections; raises `Missing` naming what the
        projections have not seen. `granted` are the units of this claim held by other approved
        applications of the beneficiary."""

    @abstractmethod
    def checks(self, evidence: EvidenceT, today: date) -> list[Check]:
        """Every rule of the programme, passed or failed, each with its evidence. Pure."""

    @abstractmethod
    def amount_fen(self, evidence: EvidenceT, today: date) -> int:
        """The grant in fen. Pure."""

    @abstractmethod
    def payee(self, evidence: EvidenceT, applicant: Applicant) -> Payee:
        """Who is paid. Pure."""

    def judge(self, evidence: EvidenceT, applicant: Applicant, today: date) -> Judgement:
        return Judgement(
            self.checks(evidence, today), self.amount_fen(evidence, today), self.payee(evidence, applicant)
        )


def person_applicant_error(applicant: Applicant, beneficiary: uuid.UUID, role: str) -> str | None:
    """The payee rule of a programme that pays the beneficiary: the beneficiary applies."""
    if applicant.kind != "person" or applicant.person_id != beneficiary:
        return (
            f"this programme pays the {role}: the applicant must be the beneficiary, kind `person` with its person_id"
        )
    return None
