"""Applications for subsidies: evaluated at once against every rule, then decided four-eyes.

A one-time programme pays a beneficiary at most once. The database holds that line (a partial
unique index over live applications, another over live payments); the checks here only turn it
into precise answers:

- while an application for the same programme and beneficiary is submitted, eligible or
  approved, a new one is refused with 409 `application-in-progress` naming it;
- once one was paid, a new one is evaluated and comes out `ineligible`, its `never_paid_before`
  check naming the paid application, so the refusal and its evidence are on record.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.registry import EmploymentSnapshot, PersonSnapshot
from contracts.subsidy import APPLICATION_DECIDED, APPLICATION_EVALUATED, ApplicationStatus
from contracts.vocabulary import Programme
from services.kit.clock import Clock, bureau_date
from services.kit.identity import Caller
from services.subsidy.applications.eligibility import (
    CategoryRecord,
    Check,
    EarlierGrant,
    evaluate_hiring_key_groups,
    held_category,
)
from services.subsidy.applications.repository import ApplicationRepository
from services.subsidy.applications.schemas import ApplicationCreate, DecisionCreate
from services.subsidy.budgets.service import BudgetService
from services.subsidy.events import application_changed
from services.subsidy.payments.repository import PaymentRepository
from services.subsidy.payments.service import PaymentService
from services.subsidy.problems import (
    AlreadyDecided,
    ApplicantNotPayee,
    ApplicationInProgress,
    ApplicationNotFound,
    EmploymentRequired,
    FourEyes,
    NoLongerEligible,
    NotEligible,
    ProgrammeNotOpen,
    UnknownBeneficiary,
    UnknownEmployment,
    UnknownProgramme,
)
from services.subsidy.programmes.catalogue import ProgrammeTerms, catalogue, find_programme
from services.subsidy.projections.repository import ProjectionRepository
from services.subsidy.settings import SubsidySettings
from services.subsidy.tables import Application, Payment


@dataclass(frozen=True)
class ApplicationView:
    application: Application
    payment: Payment | None


@dataclass(frozen=True)
class _Claim:
    """What an application claims, as stored or as submitted."""

    programme: str
    beneficiary: uuid.UUID
    employer_credit_code: str | None
    employment_id: uuid.UUID | None


class ApplicationService:
    def __init__(self, session: AsyncSession, settings: SubsidySettings, clock: Clock) -> None:
        self.session = session
        self.settings = settings
        self.clock = clock
        self.repo = ApplicationRepository(session)
        self.projection = ProjectionRepository(session)
        self.payments = PaymentService(session, settings, clock)
        self.payment_repo = PaymentRepository(session)
        self.budgets = BudgetService(session, settings)

    async def apply(self, data: ApplicationCreate, caller: Caller) -> Application:
        programme = self._open_programme(data.programme)
        if programme.payee == "employer" and data.applicant.kind != "employer":
            raise ApplicantNotPayee(
                f"{programme.code} pays the employer: the applicant must be an employer with its credit_code"
            )
        if data.employment_id is None:
            raise EmploymentRequired(f"{programme.code} is granted for one employment: give employment_id")
        in_progress = await self.repo.live_one_time(programme.code, data.beneficiary_person_id)
        if in_progress is not None and in_progress.status != "paid":
            raise self._in_progress(in_progress)
        claim = _Claim(programme.code, data.beneficiary_person_id, data.applicant.credit_code, data.employment_id)
        checks = await self._evaluate(claim)
        application = Application(
            programme=programme.code,
            one_time=programme.one_time,
            beneficiary_person_id=data.beneficiary_person_id,
            applicant_kind=data.applicant.kind,
            applicant_credit_code=data.applicant.credit_code,
            applicant_person_id=data.applicant.person_id,
            employment_id=data.employment_id,
            status="eligible" if all(c.passed for c in checks) else "ineligible",
            amount_fen=programme.amount_fen or 0,
            checks=[{"rule": c.rule, "passed": c.passed, "detail": c.detail} for c in checks],
            evaluated_on=self.clock.today(),
            submitted_by=caller.client_id,
        )
        try:
            async with self.session.begin_nested():
                self.repo.add(application)
        except IntegrityError:
            # A concurrent application for the same beneficiary won the unique index.
            winner = await self.repo.live_one_time(programme.code, data.beneficiary_person_id)
            if winner is None:
                raise
            raise self._in_progress(winner) from None
        application_changed(self.session, application, APPLICATION_EVALUATED)
        return application

    async def decide(self, application_id: uuid.UUID, data: DecisionCreate, caller: Caller) -> ApplicationView:
        application = await self._get(application_id)
        if caller.client_id == application.submitted_by:
            raise FourEyes(
                f"four-eyes: client {caller.client_id} submitted this application and may not decide it",
                submitted_by=application.submitted_by,
            )
        if application.status != "eligible":
            raise self._not_decidable(application, data)
        if data.decision == "approve":
            checks = await self._evaluate(self._claim_of(application), exclude=application.application_id)
            failed = [c for c in checks if not c.passed]
            if failed:
                raise NoLongerEligible(
                    "the application no longer meets every rule: " + "; ".join(f"{c.rule}: {c.detail}" for c in failed),
                    checks=[{"rule": c.rule, "passed": c.passed, "detail": c.detail} for c in checks],
                )
        now = self.clock.now()
        moved = await self.repo.transition(
            application_id,
            "eligible",
            status="approved" if data.decision == "approve" else "rejected",
            decided_by=caller.client_id,
            decision_note=data.note,
            decided_at=now,
            updated_at=now,
        )
        application = await self._get(application_id)
        if not moved:  # a concurrent decision won
            raise self._not_decidable(application, data)
        application_changed(self.session, application, APPLICATION_DECIDED)
        payment = None
        if data.decision == "approve":
            year = bureau_date(now).year  # the budget of the year the approval is made in
            await self.budgets.reserve(application.programme, year, application.amount_fen)
            payment = await self.payments.instruct(application, year)
        return ApplicationView(application, payment)

    async def get(self, application_id: uuid.UUID) -> ApplicationView:
        application = await self._get(application_id)
        payments = await self.payment_repo.of_applications([application_id])
        return ApplicationView(application, payments.get(application_id))

    async def page(
        self,
        *,
        limit: int,
        cursor: str | None,
        status: ApplicationStatus | None,
        programme: Programme | None,
        beneficiary: uuid.UUID | None,
    ) -> tuple[list[ApplicationView], str | None]:
        applications, next_cursor = await self.repo.page(
            limit=limit, cursor=cursor, status=status, programme=programme, beneficiary=beneficiary
        )
        payments = await self.payment_repo.of_applications([a.application_id for a in applications])
        return [ApplicationView(a, payments.get(a.application_id)) for a in applications], next_cursor

    async def _get(self, application_id: uuid.UUID) -> Application:
        application = await self.repo.get(application_id)
        if application is None:
            raise ApplicationNotFound(f"there is no application {application_id}", application_id=str(application_id))
        return application

    def _open_programme(self, code: str) -> ProgrammeTerms:
        programme = find_programme(self.settings, code)
        if programme is None:
            raise UnknownProgramme(
                f"there is no programme {code!r}", programmes=[p.code for p in catalogue(self.settings)]
            )
        if not programme.open or programme.amount_fen is None:
            raise ProgrammeNotOpen(f"the programme {code} ({programme.name}) does not take applications yet")
        return programme

    @staticmethod
    def _in_progress(existing: Application) -> ApplicationInProgress:
        return ApplicationInProgress(
            f"application {existing.application_id} for this beneficiary is already {existing.status}; "
            f"{existing.programme} is granted once",
            application_id=str(existing.application_id),
            application_status=existing.status,
        )

    @staticmethod
    def _not_decidable(application: Application, data: DecisionCreate) -> NotEligible | AlreadyDecided:
        if application.status == "ineligible":
            return NotEligible(
                f"application {application.application_id} is ineligible: only eligible applications are decided",
                application_status=application.status,
            )
        return AlreadyDecided(
            f"application {application.application_id} is already {application.status}; it cannot be "
            f"{'approved' if data.decision == 'approve' else 'rejected'} now",
            application_status=application.status,
        )

    @staticmethod
    def _claim_of(application: Application) -> _Claim:
        return _Claim(
            application.programme,
            application.beneficiary_person_id,
            application.applicant_credit_code,
            application.employment_id,
        )

    async def _evaluate(self, claim: _Claim, *, exclude: uuid.UUID | None = None) -> list[Check]:
        """Gather the facts of the projection and run the programme's rules on them."""
        person_row = await self.projection.person(claim.beneficiary)
        if person_row is None:
            raise UnknownBeneficiary(
                f"person {claim.beneficiary} is not known to the subsidy service: not registered, "
                "or the registry's event has not arrived yet",
                beneficiary_person_id=str(claim.beneficiary),
            )
        assert claim.employment_id is not None and claim.employer_credit_code is not None
        employment_row = await self.projection.employment(claim.employment_id)
        if employment_row is None:
            raise UnknownEmployment(
                f"employment {claim.employment_id} is not known to the subsidy service: not recorded, "
                "or the registry's event has not arrived yet",
                employment_id=str(claim.employment_id),
            )
        categories = [
            CategoryRecord(held_category(c.category), c.source, c.valid_from, c.valid_until, c.withdrawn_on)
            for c in await self.projection.categories(claim.beneficiary)
        ]
        earlier = [
            EarlierGrant(
                application.application_id,
                bureau_date(payment.resolved_at) if payment and payment.resolved_at else None,
            )
            for application, payment in await self.repo.paid(claim.programme, claim.beneficiary)
            if application.application_id != exclude
        ]
        return evaluate_hiring_key_groups(
            person=PersonSnapshot.model_validate(person_row.snapshot),
            categories=categories,
            employment=EmploymentSnapshot.model_validate(employment_row.snapshot),
            employer_credit_code=claim.employer_credit_code,
            earlier_grants=earlier,
            today=self.clock.today(),
        )
