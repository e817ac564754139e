"""Routes of payments and the treasury's settlement callback."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from services.kit.access import SubsidyReader, SubsidyReviewer, SubsidySettler
from services.kit.openapi import problems
from services.kit.pagination import CursorQuery, LimitQuery, Page
from services.subsidy.dependencies import PaymentServiceDep
from services.subsidy.money import cny
from services.subsidy.payments.schemas import Payee, PaymentRead, SettlementCreate
from services.subsidy.problems import (
    ApplicationNotFound,
    BudgetExhausted,
    GrantAlreadyPaid,
    NoBudget,
    PaymentNotFailed,
    PaymentNotFound,
    SettlementConflict,
)
from services.subsidy.tables import Payment

router = APIRouter(prefix="/subsidy/v1", tags=["payments"])


def to_read(payment: Payment) -> PaymentRead:
    return PaymentRead.model_validate(
        {
            "payment_id": payment.payment_id,
            "application_id": payment.application_id,
            "programme": payment.programme,
            "beneficiary_person_id": payment.beneficiary_person_id,
            "payee": Payee.model_validate(
                {
                    "kind": payment.payee_kind,
                    "credit_code": payment.payee_credit_code,
                    "person_id": payment.payee_person_id,
                }
            ),
            "amount": cny(payment.amount_fen),
            "amount_fen": payment.amount_fen,
            "budget_year": payment.budget_year,
            "status": payment.status,
            "bank_reference": payment.bank_reference,
            "reason": payment.reason,
            "instructed_at": payment.instructed_at,
            "resolved_at": payment.resolved_at,
        }
    )


@router.get("/payments", response_model=Page[PaymentRead], summary="List payments")
async def list_payments(
    _: SubsidyReader,
    service: PaymentServiceDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    application_id: Annotated[uuid.UUID | None, Query(description="Only the payment of this application")] = None,
) -> Page[PaymentRead]:
    payments, next_cursor = await service.page(limit=limit, cursor=cursor, application_id=application_id)
    return Page[PaymentRead](items=[to_read(p) for p in payments], next_cursor=next_cursor)


@router.get(
    "/payments/{payment_id}",
    response_model=PaymentRead,
    summary="Read a payment",
    responses=problems(PaymentNotFound),
)
async def read_payment(payment_id: uuid.UUID, _: SubsidyReader, service: PaymentServiceDep) -> PaymentRead:
    return to_read(await service.get(payment_id))


@router.post(
    "/payments/{payment_id}/settlement",
    response_model=PaymentRead,
    summary="The treasury's callback: the payment settled or failed",
    description="The same callback again answers the payment as it is; one that contradicts the outcome already "
    "recorded (the payment was already resolved otherwise) is answered `settlement-conflict`.",
    responses=problems(PaymentNotFound, SettlementConflict),
)
async def settle_payment(
    payment_id: uuid.UUID, body: SettlementCreate, _: SubsidySettler, service: PaymentServiceDep
) -> PaymentRead:
    return to_read(await service.settle(payment_id, body))


@router.post(
    "/applications/{application_id}/payments",
    status_code=201,
    response_model=PaymentRead,
    summary="Instruct a new payment after a failed one; reserves the budget again",
    description="Only for an application whose payment failed (`payment-not-failed` otherwise). The grant is "
    "reserved again in the budget of the year the new payment is instructed in, which must have it left "
    "(`no-budget`, `budget-exhausted`).",
    responses=problems(ApplicationNotFound, PaymentNotFailed, NoBudget, BudgetExhausted, GrantAlreadyPaid),
)
async def instruct_payment_again(
    application_id: uuid.UUID, _: SubsidyReviewer, service: PaymentServiceDep, response: Response
) -> PaymentRead:
    payment = await service.instruct_again(application_id)
    response.headers["Location"] = f"/subsidy/v1/payments/{payment.payment_id}"
    return to_read(payment)
