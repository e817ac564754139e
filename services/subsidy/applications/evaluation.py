"""Judging applications: the first evaluation once the projections have caught up, the evaluation
again whenever the beneficiary's projected facts change (until a reviewer decides), and the one at
approval. Programme-agnostic: everything programme-specific goes through `Programme`."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.subsidy import APPLICATION_EVALUATED
from services.kit.clock import Clock
from services.kit.db import utcnow
from services.kit.errors import is_infrastructure_error
from services.subsidy.applications.repository import ApplicationRepository
from services.subsidy.events import application_changed
from services.subsidy.lifecycle import check_application_move
from services.subsidy.metrics import count_first_decision
from services.subsidy.programmes.base import Applicant, Judgement, Missing, Programme
from services.subsidy.programmes.registry import Catalogue
from services.subsidy.programmes.rules import Check
from services.subsidy.projections.repository import ProjectionFacts
from services.subsidy.tables import Application

log = logging.getLogger(__name__)

KNOWN = "beneficiary_known"


def claim_fields(application: Application) -> dict[str, Any]:
    """The claim an application names besides its beneficiary, as stored."""
    fields: dict[str, Any] = {
        "employment_id": application.employment_id,
        "business_credit_code": application.business_credit_code,
        "training_id": application.training_id,
        "months": application.months,
    }
    return {name: value for name, value in fields.items() if value is not None}


def applicant_of(application: Application) -> Applicant:
    if application.applicant_kind == "employer":
        return Applicant("employer", application.applicant_credit_code, None)
    return Applicant("person", None, application.applicant_person_id)


def _dump(checks: list[Check]) -> list[dict[str, Any]]:
    return [{"rule": c.rule, "passed": c.passed, "detail": c.detail} for c in checks]


class Evaluator:
    def __init__(self, session: AsyncSession, clock: Clock, catalogue: Catalogue) -> None:
        self.session = session
        self.clock = clock
        self.catalogue = catalogue
        self.facts = ProjectionFacts(session)
        self.repo = ApplicationRepository(session)

    def programme_of(self, application: Application) -> Programme[Any, Any]:
        programme = self.catalogue.get(application.programme)
        if programme is None:  # stored applications name only programmes of the catalogue
            raise LookupError(f"application {application.application_id} names no programme of the catalogue")
        return programme

    async def judge(self, application: Application) -> Judgement:
        """Every rule of the application's programme on the projections now; `Missing` when they
        lack what it names."""
        programme = self.programme_of(application)
        claim = programme.parse_claim(claim_fields(application))
        beneficiary = application.beneficiary_person_id
        # Shared lock on the beneficiary's projected person: an event that changes their facts (their
        # person, their employments, a business they founded or its employees) locks that row for
        # update, so it waits for this judgement to commit and then judges it again; or it committed
        # before, and this judgement reads it. (SQLite writes one at a time anyway.)
        locked = await self.facts.repo.person(beneficiary, lock="share")
        granted = await self.repo.granted(
            application.programme, beneficiary, programme.units(claim), exclude=application.application_id
        )
        applicant = applicant_of(application)
        evidence = await programme.gather(self.facts, beneficiary, applicant, claim, granted)
        judged = programme.judge(evidence, applicant, self.clock.today())
        version = locked.version if locked is not None else "?"
        known = Check(
            KNOWN,
            True,
            f"the projections hold the beneficiary (registry snapshot version {version}) "
            "and everything the application names",
        )
        return Judgement([known, *judged.checks], judged.amount_fen, judged.payee)

    def unknown(self, missing: Missing, waited_s: float) -> Judgement:
        detail = f"after waiting {waited_s:.0f} s the projections have not seen {missing}"
        return Judgement([Check(KNOWN, False, detail)], 0, None)

    def values(self, judgement: Judgement, now: datetime) -> dict[str, Any]:
        """The columns a judgement sets, its status included."""
        payee = judgement.payee
        return {
            "status": "eligible" if judgement.eligible else "ineligible",
            "checks": _dump(judgement.checks),
            "amount_fen": judgement.amount_fen,
            "evaluated_on": self.clock.today(),
            "updated_at": now,
            "payee_kind": payee.kind if payee else None,
            "payee_name": payee.name if payee else None,
            "payee_credit_code": payee.credit_code if payee else None,
            "payee_person_id": payee.person_id if payee else None,
        }

    async def first_evaluation(
        self, application: Application, *, waited_s: float, caught_up: bool = True, give_up: bool = False
    ) -> bool:
        """Judge a submitted application (new, or locked by the caller); False when it must wait longer.

        Judged only once the projections have caught up with its submission. Past the wait
        (`give_up`), one that names what they have not seen is judged with a failed
        `beneficiary_known`; one whose facts are there but may be stale keeps waiting: a verdict on
        stale facts is what this service never gives."""
        try:
            judgement = await self.judge(application)
        except Missing as missing:
            if not give_up:
                return False
            judgement = self.unknown(missing, waited_s)
        else:
            if not caught_up:
                return False
        now = utcnow()
        values = self.values(judgement, now)
        check_application_move(application.status, values["status"])
        for name, value in values.items():
            setattr(application, name, value)
        application.first_evaluated_at = now
        count_first_decision(self.session, application.programme, application.created_at, now)
        return True

    async def reevaluate(self, application: Application) -> None:
        """Judge an eligible or ineligible application again; publish when its status changes."""
        try:
            judgement = await self.judge(application)
        except Missing:
            return  # still lacking what it names: its judgement stands
        values = self.values(judgement, utcnow())
        current = application.status
        if (values["status"], values["checks"], values["amount_fen"]) == (
            current,
            application.checks,
            application.amount_fen,
        ):
            return
        status = values.pop("status")
        if status == current:
            await self.repo.update_if(application.application_id, current, **values)
            return
        if await self.repo.transition(application.application_id, current, status, **values):
            fresh = await self.repo.get(application.application_id)
            assert fresh is not None
            application_changed(self.session, fresh, APPLICATION_EVALUATED)

    async def reevaluate_for(
        self, *, beneficiaries: set[uuid.UUID] | None = None, businesses: set[str] | None = None
    ) -> None:
        for application in await self.repo.undecided_for(
            beneficiaries=beneficiaries or set(), businesses=businesses or set()
        ):
            # Each in a savepoint: a bug judging one application must not dead-letter the registry
            # event that changed the facts (the projection would stop following the registry).
            try:
                async with self.session.begin_nested():
                    await self.reevaluate(application)
            except Exception as exc:
                if is_infrastructure_error(exc):
                    raise
                log.exception("application not judged again", extra={"application_id": str(application.application_id)})
