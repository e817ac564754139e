"""Public notices (公示) of approved grants: written at approval, listed for `notice_days`.

A notice shows the masked name (first and last character kept), the town, the payee's name (an
employer's name, or the masked name), the amount and the dates; no part of an id number and no
birth date (SPEC 2.3). The projections hold nothing more than that about a person anyway.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contracts.registry import PersonSnapshot
from contracts.vocabulary import Programme
from services.kit.clock import Clock
from services.kit.pagination import paginate
from services.subsidy.notices.schemas import NoticesCursor
from services.subsidy.settings import SubsidySettings
from services.subsidy.tables import Application, Notice, ProjectedPerson


class NoticeService:
    def __init__(self, session: AsyncSession, settings: SubsidySettings, clock: Clock) -> None:
        self.session = session
        self.settings = settings
        self.clock = clock

    async def publish(self, application: Application) -> Notice:
        """The notice of an application just approved."""
        person = await self.session.get(ProjectedPerson, application.beneficiary_person_id)
        snapshot = PersonSnapshot.model_validate(person.snapshot) if person is not None else None
        name_masked = snapshot.name_masked if snapshot is not None else "*"
        today = self.clock.today()
        notice = Notice(
            application_id=application.application_id,
            programme=application.programme,
            name_masked=name_masked,
            town=snapshot.town if snapshot is not None else None,
            payee_name=application.payee_name or name_masked,
            amount_fen=application.amount_fen,
            approved_on=today,
            until=today + timedelta(days=self.settings.notice_days - 1),  # the approval day is the first
        )
        self.session.add(notice)
        return notice

    async def page(
        self,
        *,
        limit: int,
        cursor: str | None,
        on: date | None,
        programme: Programme | None,
        town: str | None,
    ) -> tuple[list[Notice], str | None]:
        """Notices shown on day `on` (today by default), by approval day."""
        day = on or self.clock.today()
        query = select(Notice).where(col(Notice.approved_on) <= day, col(Notice.until) >= day)
        if programme is not None:
            query = query.where(Notice.programme == programme)
        if town is not None:
            query = query.where(Notice.town == town)
        return await paginate(
            self.session,
            query,
            keys=[col(Notice.approved_on), col(Notice.notice_id)],
            position=NoticesCursor,
            limit=limit,
            cursor=cursor,
        )
