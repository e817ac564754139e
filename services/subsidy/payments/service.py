"""Payments of approved grants: instructed on approval, then settled or failed by the treasury's
callback; after a failure an operator may instruct a new one. Each outcome takes effect once: a
repeated identical callback changes nothing, a contradicting one is refused, and only the request
that moves a payment out of `instructed` spends or releases its reservation. "Payment settled, so
application paid" (or failed, so `payment_failed`) happens here and nowhere else."""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.subsidy import (
    APPLICATION_PAID,
    APPLICATION_PAYMENT_FAILED,
    APPLICATION_PAYMENT_INSTRUCTED,
    PAYMENT_FAILED,
    PAYMENT_INSTRUCTED,
    PAYMENT_SETTLED,
)
from services.kit.clock import Clock, bureau_date
from services.kit.db import utcnow
from services.subsidy.applications.repository import ApplicationRepository
from services.subsidy.budgets.service import BudgetService
from services.subsidy.events import application_changed, payment_changed
from services.subsidy.lifecycle import check_payment_move
from services.subsidy.metrics import count_paid
from services.subsidy.payments.repository import PaymentRepository
from services.subsidy.payments.schemas import SettlementCreate
from services.subsidy.problems import (
    ApplicationNotFound,
    GrantAlreadyPaid,
    PaymentNotFailed,
    PaymentNotFound,
    SettlementConflict,
)
from services.subsidy.programmes.registry import Catalogue
from services.subsidy.settings import SubsidySettings
from services.subsidy.tables import Application, Payment


class PaymentBookkeepingError(RuntimeError):
    """A payment's application is not in the state the payment implies: a bug, never a caller's mistake."""


class PaymentService:
    def __init__(self, session: AsyncSession, settings: SubsidySettings, clock: Clock, catalogue: Catalogue) -> None:
        self.session = session
        self.clock = clock
        self.repo = PaymentRepository(session)
        self.applications = ApplicationRepository(session)
        self.budgets = BudgetService(session, catalogue)

    async def get(self, payment_id: uuid.UUID) -> Payment:
        payment = await self.repo.get(payment_id)
        if payment is None:
            raise PaymentNotFound(f"there is no payment {payment_id}", payment_id=str(payment_id))
        return payment

    async def page(
        self, *, limit: int, cursor: str | None, application_id: uuid.UUID | None
    ) -> tuple[list[Payment], str | None]:
        return await self.repo.page(limit=limit, cursor=cursor, application_id=application_id)

    async def instruct(self, application: Application, budget_year: int) -> Payment:
        """Instruct the payment of an approved application; its budget is already reserved."""
        payment = Payment(
            application_id=application.application_id,
            programme=application.programme,
            one_time=application.one_time,
            beneficiary_person_id=application.beneficiary_person_id,
            payee_kind=application.payee_kind or application.applicant_kind,
            payee_credit_code=application.payee_credit_code,
            payee_person_id=application.payee_person_id,
            amount_fen=application.amount_fen,
            budget_year=budget_year,
            status="instructed",
            instructed_at=self.clock.now(),
        )
        try:
            async with self.session.begin_nested():
                self.repo.add(payment)
        except IntegrityError:
            raise GrantAlreadyPaid(
                f"a payment of {application.programme} is already instructed or settled for this beneficiary",
                application_id=str(application.application_id),
            ) from None
        payment_changed(self.session, payment, PAYMENT_INSTRUCTED)
        return payment

    async def instruct_again(self, application_id: uuid.UUID) -> Payment:
        """After a failed payment: the application is approved again, its budget reserved again (in
        this year's budget), and a new payment instructed. Only one request wins the move."""
        application = await self.applications.get(application_id, for_update=True)
        if application is None:
            raise ApplicationNotFound(f"there is no application {application_id}", application_id=str(application_id))
        if not await self.applications.transition(application_id, "payment_failed", "approved", updated_at=utcnow()):
            current = await self.applications.get(application_id)
            status = current.status if current is not None else "unknown"
            raise PaymentNotFailed(
                f"application {application_id} is {status}: a new payment is instructed only after one failed",
                application_status=status,
            )
        application = await self.applications.get(application_id)
        assert application is not None
        year = bureau_date(self.clock.now()).year
        await self.budgets.reserve(application.programme, year, application.amount_fen)
        payment = await self.instruct(application, year)
        application_changed(self.session, application, APPLICATION_PAYMENT_INSTRUCTED)
        return payment

    async def settle(self, payment_id: uuid.UUID, data: SettlementCreate) -> Payment:
        await self.get(payment_id)
        check_payment_move("instructed", data.outcome)
        resolved = await self.repo.resolve(
            payment_id,
            status=data.outcome,
            bank_reference=data.bank_reference,
            reason=data.reason,
            resolved_at=self.clock.now(),
        )
        payment = await self.get(payment_id)
        if not resolved:
            return self._repeat(payment, data)
        if data.outcome == "settled":
            await self.budgets.spend(payment.programme, payment.budget_year, payment.amount_fen)
            await self._finish_application(payment, "paid", APPLICATION_PAID)
            payment_changed(self.session, payment, PAYMENT_SETTLED)
            count_paid(self.session, payment.programme, payment.amount_fen)
        else:
            await self.budgets.release(payment.programme, payment.budget_year, payment.amount_fen)
            await self._finish_application(payment, "payment_failed", APPLICATION_PAYMENT_FAILED)
            payment_changed(self.session, payment, PAYMENT_FAILED)
        return payment

    def _repeat(self, payment: Payment, data: SettlementCreate) -> Payment:
        """The payment was resolved before: the same callback again is answered alike, another is refused."""
        if (payment.status, payment.bank_reference, payment.reason) == (data.outcome, data.bank_reference, data.reason):
            return payment
        raise SettlementConflict(
            f"payment {payment.payment_id} is already {payment.status}"
            + (f" with bank reference {payment.bank_reference}" if payment.bank_reference else "")
            + (f" ({payment.reason})" if payment.reason else "")
            + "; a different outcome cannot be recorded",
            payment_id=str(payment.payment_id),
            payment_status=payment.status,
            bank_reference=payment.bank_reference,
            reason=payment.reason,
        )

    async def _finish_application(self, payment: Payment, status: str, event_type: str) -> None:
        moved = await self.applications.transition(payment.application_id, "approved", status, updated_at=utcnow())
        application = await self.applications.get(payment.application_id)
        if not moved or application is None:
            raise PaymentBookkeepingError(f"application {payment.application_id} of a payment is not approved")
        application_changed(self.session, application, event_type)
