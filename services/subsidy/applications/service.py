"""Applications for subsidies: accepted at once, judged on everything the registry and sharing had
accepted before them, judged again while undecided, then decided four-eyes.

Submission waits (up to `submission_wait_s`) for the projections to reach the submission instant
(`consistency.py`) and judges the application in the same request when they have; otherwise it is
answered `submitted` and the background evaluator (`tasks.py`) judges it once they have, or, after
`facts_wait_s`, with a failed `beneficiary_known` check if what it names is still unknown.

"At most once" is the database's: the grant units an approval inserts (`subsidy_grant`), one open
application per one-time programme and beneficiary, one live payment per application. The checks
here only turn those lines into precise answers.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.subsidy import APPLICATION_DECIDED, APPLICATION_EVALUATED, APPLICATION_SUBMITTED, ApplicationStatus
from contracts.vocabulary import Programme as ProgrammeCode
from services.kit.clock import Clock, bureau_date
from services.kit.db import Database, utcnow
from services.kit.identity import Caller
from services.subsidy.applications.consistency import Consistency
from services.subsidy.applications.evaluation import Evaluator, claim_fields
from services.subsidy.applications.repository import ApplicationRepository
from services.subsidy.applications.schemas import ApplicationCreate, DecisionCreate
from services.subsidy.budgets.service import BudgetService
from services.subsidy.events import application_changed
from services.subsidy.metrics import count_approved
from services.subsidy.notices.service import NoticeService
from services.subsidy.payments.repository import PaymentRepository
from services.subsidy.payments.service import PaymentService
from services.subsidy.problems import (
    AlreadyDecided,
    AlreadyGranted,
    ApplicantNotPayee,
    ApplicationInProgress,
    ApplicationNotFound,
    FourEyes,
    InvalidClaim,
    NoLongerEligible,
    NotEligible,
    NotJudgedYet,
    UnknownProgramme,
)
from services.subsidy.programmes.base import Applicant, Programme
from services.subsidy.programmes.registry import Catalogue
from services.subsidy.settings import SubsidySettings
from services.subsidy.tables import Application, Payment


@dataclass
class Round:
    judged: int = 0
    lacking: list[uuid.UUID] = field(default_factory=list)


@dataclass(frozen=True)
class ApplicationView:
    application: Application
    payment: Payment | None


class ApplicationService:
    def __init__(
        self,
        session: AsyncSession,
        settings: SubsidySettings,
        clock: Clock,
        catalogue: Catalogue,
        db: Database,
        consistency: Consistency,
    ) -> None:
        self.session = session
        self.settings = settings
        self.clock = clock
        self.catalogue = catalogue
        self.db = db
        self.consistency = consistency
        self.repo = ApplicationRepository(session)
        self.evaluator = Evaluator(session, clock, catalogue)
        self.payments = PaymentService(session, settings, clock, catalogue)
        self.payment_repo = PaymentRepository(session)
        self.budgets = BudgetService(session, catalogue)
        self.notices = NoticeService(session, settings, clock)

    async def apply(self, data: ApplicationCreate, caller: Caller) -> Application:
        programme = self._programme(data.programme)
        claim = self._claim(programme, data)
        applicant = Applicant(data.applicant.kind, data.applicant.credit_code, data.applicant.person_id)
        if (error := programme.applicant_error(applicant, data.beneficiary_person_id, claim)) is not None:
            raise ApplicantNotPayee(error)
        submitted_at = utcnow()
        # Before this request's session touches the database: on SQLite its first statement takes
        # the write lock, which the consumers catching up need.
        caught_up = await self.caught_up(submitted_at, wait_s=self.settings.submission_wait_s)
        if programme.one_time:
            open_application = await self.repo.open_one_time(programme.code, data.beneficiary_person_id)
            if open_application is not None:
                raise self._in_progress(open_application)
        application = Application(
            programme=programme.code,
            one_time=programme.one_time,
            beneficiary_person_id=data.beneficiary_person_id,
            applicant_kind=data.applicant.kind,
            applicant_credit_code=data.applicant.credit_code,
            applicant_person_id=data.applicant.person_id,
            **_stored_claim(data),
            status="submitted",
            amount_fen=0,
            checks=[],
            submitted_by=caller.client_id,
            created_at=submitted_at,
            updated_at=submitted_at,
        )
        evaluated = caught_up and await self.evaluator.first_evaluation(application, waited_s=0)
        try:
            async with self.session.begin_nested():
                self.repo.add(application)
        except IntegrityError:
            # A concurrent application for the same beneficiary won the unique index.
            winner = await self.repo.open_one_time(programme.code, data.beneficiary_person_id)
            if winner is None:
                raise
            raise self._in_progress(winner) from None
        application_changed(self.session, application, APPLICATION_EVALUATED if evaluated else APPLICATION_SUBMITTED)
        return application

    async def caught_up(self, submitted_at: datetime, *, wait_s: float) -> bool:
        """Whether, within `wait_s`, the projections reach everything the sources had accepted
        before `submitted_at`."""
        return await self.consistency.wait_for(submitted_at, wait_s)

    async def decide(self, application_id: uuid.UUID, data: DecisionCreate, caller: Caller) -> ApplicationView:
        application = await self._get(application_id, for_update=True)
        if caller.client_id == application.submitted_by:
            raise FourEyes(
                f"four-eyes: client {caller.client_id} submitted this application and may not decide it",
                submitted_by=application.submitted_by,
            )
        if data.decision == "reject":
            return await self._reject(application, data, caller)
        if application.status != "eligible":
            raise self._not_decidable(application, data)
        judgement = await self.evaluator.judge(application)
        if not judgement.eligible:
            raise NoLongerEligible(
                "the application no longer meets every rule: "
                + "; ".join(f"{c.rule}: {c.detail}" for c in judgement.checks if not c.passed),
                checks=[{"rule": c.rule, "passed": c.passed, "detail": c.detail} for c in judgement.checks],
            )
        now = self.clock.now()
        values = self.evaluator.values(judgement, utcnow())
        values.pop("status")
        moved = await self.repo.transition(
            application_id,
            "eligible",
            "approved",
            **values,
            decided_by=caller.client_id,
            decision_note=data.note,
            decided_at=now,
        )
        application = await self._get(application_id)
        if not moved:  # a concurrent decision won
            raise self._not_decidable(application, data)
        await self._grant(application)
        application_changed(self.session, application, APPLICATION_DECIDED)
        year = bureau_date(now).year  # the budget of the year the approval is made in
        await self.budgets.reserve(application.programme, year, application.amount_fen)
        payment = await self.payments.instruct(application, year)
        await self.notices.publish(application)
        count_approved(self.session, application.programme, application.amount_fen)
        return ApplicationView(application, payment)

    async def _reject(self, application: Application, data: DecisionCreate, caller: Caller) -> ApplicationView:
        if application.status not in ("eligible", "ineligible"):
            raise self._not_decidable(application, data)
        now = self.clock.now()
        moved = await self.repo.transition(
            application.application_id,
            application.status,
            "rejected",
            decided_by=caller.client_id,
            decision_note=data.note,
            decided_at=now,
            updated_at=utcnow(),
        )
        application = await self._get(application.application_id)
        if not moved:
            raise self._not_decidable(application, data)
        application_changed(self.session, application, APPLICATION_DECIDED)
        return ApplicationView(application, None)

    async def _grant(self, application: Application) -> None:
        """Use up what the approval grants; the primary key refuses a second grant of the same unit."""
        programme = self.evaluator.programme_of(application)
        claim = programme.parse_claim(claim_fields(application))
        units = programme.units(claim)
        try:
            async with self.session.begin_nested():
                self.repo.add_grants(application, units)
        except IntegrityError:
            held = await self.repo.granted(
                application.programme, application.beneficiary_person_id, units, exclude=application.application_id
            )
            raise AlreadyGranted(
                f"another application was granted {', '.join(g.unit for g in held) or 'this'} for this beneficiary "
                "in the meantime",
                granted=[{"unit": g.unit, "application_id": str(g.application_id)} for g in held],
            ) from None

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
        programme: ProgrammeCode | None,
        beneficiary: uuid.UUID | None,
    ) -> tuple[list[ApplicationView], str | None]:
        applications, next_cursor = await self.repo.page(
            limit=limit, cursor=cursor, status=status, programme=programme, beneficiary=beneficiary
        )
        payments = await self.payment_repo.of_applications([a.application_id for a in applications])
        return [ApplicationView(a, payments.get(a.application_id)) for a in applications], next_cursor

    async def evaluate_submitted(self, *, skip: Collection[uuid.UUID] = (), limit: int = 100) -> Round:
        """Judge the submitted applications the projections have caught up with, or that waited
        `facts_wait_s` (the background evaluator's round); what still lacks facts is named, so the
        next rounds can pass it over for a while and never starve the others."""
        done = Round()
        if not await self.repo.any_submitted():
            return done  # the usual case: no horizon to work out ten times a second
        horizon = await self.consistency.horizon(self.session)
        now = utcnow()
        give_up_before = now - timedelta(seconds=self.settings.facts_wait_s)
        for candidate in await self.repo.submitted(
            caught_up_to=horizon, waited_since=give_up_before, skip=skip, limit=limit
        ):
            async with self.session.begin_nested():
                application = await self.repo.get(candidate.application_id, for_update=True)
                if application is None or application.status != "submitted":
                    continue  # another replica judged it
                waited = (now - application.created_at).total_seconds()
                give_up = application.created_at <= give_up_before
                caught_up = horizon is not None and application.created_at <= horizon
                if await self.evaluator.first_evaluation(
                    application, waited_s=waited, caught_up=caught_up, give_up=give_up
                ):
                    await self.session.flush()
                    application_changed(self.session, application, APPLICATION_EVALUATED)
                    done.judged += 1
                else:
                    done.lacking.append(application.application_id)
        return done

    async def _get(self, application_id: uuid.UUID, *, for_update: bool = False) -> Application:
        application = await self.repo.get(application_id, for_update=for_update)
        if application is None:
            raise ApplicationNotFound(f"there is no application {application_id}", application_id=str(application_id))
        return application

    def _programme(self, code: str) -> Programme[Any, Any]:
        programme = self.catalogue.get(code)
        if programme is None:
            raise UnknownProgramme(f"there is no programme {code!r}", programmes=self.catalogue.codes)
        return programme

    @staticmethod
    def _claim(programme: Programme[Any, Any], data: ApplicationCreate) -> Any:
        try:
            return programme.parse_claim(data.claim_fields())
        except ValidationError as exc:
            errors = [
                {
                    "location": ".".join(["body", *(str(part) for part in err["loc"])]),
                    "message": err["msg"].removeprefix("Value error, "),
                    "type": err["type"],
                }
                for err in exc.errors()
            ]
            first = errors[0]
            raise InvalidClaim(
                f"{programme.code} takes {_takes(programme)}: {first['location']}: {first['message']}", errors=errors
            ) from None

    @staticmethod
    def _in_progress(existing: Application) -> ApplicationInProgress:
        return ApplicationInProgress(
            f"application {existing.application_id} for this beneficiary is already {existing.status}; "
            f"{existing.programme} is granted once: a reviewer decides the open application first",
            application_id=str(existing.application_id),
            application_status=existing.status,
        )

    @staticmethod
    def _not_decidable(application: Application, data: DecisionCreate) -> NotJudgedYet | NotEligible | AlreadyDecided:
        if application.status == "submitted":
            return NotJudgedYet(
                f"application {application.application_id} is submitted: it waits for the facts it names and is "
                f"judged first; it can be {'approved' if data.decision == 'approve' else 'rejected'} once it is "
                "eligible or ineligible",
                application_status=application.status,
            )
        if application.status == "ineligible":
            return NotEligible(
                f"application {application.application_id} is {application.status}: only eligible applications "
                "are approved",
                application_status=application.status,
            )
        return AlreadyDecided(
            f"application {application.application_id} is already {application.status}; it cannot be "
            f"{'approved' if data.decision == 'approve' else 'rejected'} now",
            application_status=application.status,
        )


def _takes(programme: Programme[Any, Any]) -> str:
    fields = list(programme.claim_model.model_fields)
    return ", ".join(f"`{name}`" for name in fields) if fields else "nothing besides the beneficiary"


def _stored_claim(data: ApplicationCreate) -> dict[str, Any]:
    return {
        "employment_id": data.employment_id,
        "business_credit_code": data.business_credit_code,
        "training_id": data.training_id,
        "months": sorted(data.months) if data.months is not None else None,
    }
