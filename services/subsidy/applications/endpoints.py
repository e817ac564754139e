"""Routes of subsidy applications and their four-eyes decision."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from contracts.subsidy import ApplicationStatus
from contracts.vocabulary import Programme
from services.kit.access import SubsidyApplicant, SubsidyReader, SubsidyReviewer
from services.kit.openapi import problems
from services.kit.pagination import CursorQuery, LimitQuery, Page
from services.subsidy.applications.schemas import ApplicationCreate, ApplicationRead, DecisionCreate
from services.subsidy.applications.service import ApplicationView
from services.subsidy.dependencies import ApplicationServiceDep
from services.subsidy.money import cny
from services.subsidy.problems import (
    AlreadyDecided,
    AlreadyGranted,
    ApplicantNotPayee,
    ApplicationInProgress,
    ApplicationNotFound,
    BudgetExhausted,
    FourEyes,
    GrantAlreadyPaid,
    InvalidClaim,
    NoBudget,
    NoLongerEligible,
    NotEligible,
    NotJudgedYet,
    UnknownProgramme,
)

router = APIRouter(prefix="/subsidy/v1", tags=["applications"])


def to_read(view: ApplicationView) -> ApplicationRead:
    a, payment = view.application, view.payment
    return ApplicationRead.model_validate(
        {
            "application_id": a.application_id,
            "programme": a.programme,
            "status": a.status,
            "beneficiary_person_id": a.beneficiary_person_id,
            "applicant": {
                "kind": a.applicant_kind,
                "credit_code": a.applicant_credit_code,
                "person_id": a.applicant_person_id,
            },
            "employment_id": a.employment_id,
            "business_credit_code": a.business_credit_code,
            "training_id": a.training_id,
            "months": a.months,
            "checks": a.checks,
            "failed_rules": [c["rule"] for c in a.checks if not c["passed"]],
            "payee": {
                "kind": a.payee_kind,
                "name": a.payee_name,
                "credit_code": a.payee_credit_code,
                "person_id": a.payee_person_id,
            }
            if a.payee_kind is not None and a.payee_name is not None
            else None,
            "amount": cny(a.amount_fen),
            "amount_fen": a.amount_fen,
            "evaluated_on": a.evaluated_on,
            "submitted_by": a.submitted_by,
            "decided_by": a.decided_by,
            "decision_note": a.decision_note,
            "decided_at": a.decided_at,
            "payment": {"payment_id": payment.payment_id, "status": payment.status} if payment else None,
            "created_at": a.created_at,
            "updated_at": a.updated_at,
        }
    )


@router.post(
    "/applications",
    status_code=201,
    response_model=ApplicationRead,
    summary="Apply for a subsidy; judged on everything the registry and sharing had accepted before it",
    description="The application is judged in the request once the subsidy service's projections have caught up "
    "with the registry and sharing writes acknowledged before it (usually well under a second); otherwise it is "
    "answered `submitted` and judged in the background. One that names a person, employment, training or business "
    "the projections have not seen waits in `submitted`, and after `SUBSIDY_FACTS_WAIT_S` (10 minutes) is judged "
    "`ineligible` with a failed `beneficiary_known` check. A one-time programme takes one open application per "
    "beneficiary: while one is open, another is answered `application-in-progress`.",
    responses=problems(ApplicationInProgress, UnknownProgramme, InvalidClaim, ApplicantNotPayee),
)
async def submit_application(
    body: ApplicationCreate, caller: SubsidyApplicant, service: ApplicationServiceDep, response: Response
) -> ApplicationRead:
    application = await service.apply(body, caller)
    response.headers["Location"] = f"/subsidy/v1/applications/{application.application_id}"
    return to_read(ApplicationView(application, None))


@router.get("/applications", response_model=Page[ApplicationRead], summary="List applications")
async def list_applications(
    _: SubsidyReader,
    service: ApplicationServiceDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    status: Annotated[ApplicationStatus | None, Query(description="Only this status")] = None,
    programme: Annotated[Programme | None, Query(description="Only this programme")] = None,
    beneficiary_person_id: Annotated[uuid.UUID | None, Query(description="Only this beneficiary")] = None,
) -> Page[ApplicationRead]:
    views, next_cursor = await service.page(
        limit=limit, cursor=cursor, status=status, programme=programme, beneficiary=beneficiary_person_id
    )
    return Page[ApplicationRead](items=[to_read(v) for v in views], next_cursor=next_cursor)


@router.get(
    "/applications/{application_id}",
    response_model=ApplicationRead,
    summary="Read an application",
    responses=problems(ApplicationNotFound),
)
async def read_application(
    application_id: uuid.UUID, _: SubsidyReader, service: ApplicationServiceDep
) -> ApplicationRead:
    return to_read(await service.get(application_id))


@router.post(
    "/applications/{application_id}/decision",
    response_model=ApplicationRead,
    summary="Approve an eligible application or reject an undecided one (four-eyes); approval evaluates once "
    "more, reserves budget, instructs payment and publishes the notice",
    description="The API client that submitted the application may not decide it (`four-eyes`). An approval that "
    "no longer meets every rule is answered `no-longer-eligible` with the `checks`.",
    responses=problems(
        ApplicationNotFound,
        FourEyes,
        NotJudgedYet,
        NotEligible,
        AlreadyDecided,
        NoLongerEligible,
        AlreadyGranted,
        GrantAlreadyPaid,
        NoBudget,
        BudgetExhausted,
    ),
)
async def decide_application(
    application_id: uuid.UUID, body: DecisionCreate, caller: SubsidyReviewer, service: ApplicationServiceDep
) -> ApplicationRead:
    return to_read(await service.decide(application_id, body, caller))
