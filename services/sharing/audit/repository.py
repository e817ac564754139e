"""Every query on the audit log: the locked head, appends, filtered pages, and the chain in seq order."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from services.kit.pagination import paginate

from ..tables import SharingAuditEntry, SharingAuditHead, SharingAuditSubject
from .chain import chain_instant
from .schemas import AuditCursor

ENTRY = SharingAuditEntry.__table__  # type: ignore[attr-defined]
HEAD_ID = 1


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_head(self) -> SharingAuditHead:
        """The chain's head, locked until the transaction ends: the one place appends queue up."""
        head = (
            await self.session.execute(
                select(SharingAuditHead)
                .where(col(SharingAuditHead.id) == HEAD_ID)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalar_one()
        return head

    async def head(self) -> SharingAuditHead:
        return (
            await self.session.execute(
                select(SharingAuditHead)
                .where(col(SharingAuditHead.id) == HEAD_ID)
                .execution_options(populate_existing=True)
            )
        ).scalar_one()

    async def append(self, entry: dict[str, Any], at: datetime) -> None:
        await self.session.execute(sa.insert(SharingAuditEntry), [{**entry, "at": at}])
        if entry["subjects"]:
            await self.session.execute(
                sa.insert(SharingAuditSubject), [{"subject_ref": s, "seq": entry["seq"]} for s in entry["subjects"]]
            )
        await self.session.execute(
            sa.update(SharingAuditHead)
            .where(col(SharingAuditHead.id) == HEAD_ID)
            .values(seq=entry["seq"], hash=entry["hash"])
        )

    async def page(
        self,
        *,
        agency: str | None,
        dataset: str | None,
        action: str | None,
        since: datetime | None,
        until: datetime | None,
        subject_ref: str | None,
        hidden: tuple[frozenset[str], str] | None,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[SharingAuditEntry], str | None]:
        """`hidden`: (datasets, viewer agency) whose entries the subject filter must not find unless
        the viewer pushed them."""
        query = select(SharingAuditEntry)
        if agency is not None:
            query = query.where(col(SharingAuditEntry.agency) == agency)
        if dataset is not None:
            query = query.where(col(SharingAuditEntry.dataset) == dataset)
        if action is not None:
            query = query.where(col(SharingAuditEntry.action) == action)
        if since is not None:
            query = query.where(col(SharingAuditEntry.at) >= since)
        if until is not None:
            query = query.where(col(SharingAuditEntry.at) < until)
        if subject_ref is not None:
            if hidden is not None:
                datasets, viewer = hidden
                query = query.where(
                    sa.or_(
                        col(SharingAuditEntry.dataset).not_in(sorted(datasets)),
                        col(SharingAuditEntry.agency) == viewer,
                    )
                )
            query = query.where(
                col(SharingAuditEntry.seq).in_(
                    select(SharingAuditSubject.seq).where(col(SharingAuditSubject.subject_ref) == subject_ref)
                )
            )
        return await paginate(
            self.session, query, keys=[col(SharingAuditEntry.seq)], position=AuditCursor, limit=limit, cursor=cursor
        )

    async def last_seq(self) -> int:
        return int((await self.session.execute(sa.select(sa.func.coalesce(sa.func.max(ENTRY.c.seq), 0)))).scalar_one())

    async def entries(self, *, up_to_seq: int, chunk: int = 1000) -> AsyncIterator[Sequence[dict[str, Any]]]:
        """Every entry up to `up_to_seq`, in seq order, as chained dicts, a chunk at a time (plain
        tuples zipped with the column names: ORM objects or row mappings for a hundred thousand
        entries cost more than hashing them)."""
        names = [column.name for column in ENTRY.columns]
        at = names.index("at")
        after = 0
        while after < up_to_seq:
            rows = (
                await self.session.execute(
                    sa.select(*ENTRY.columns)
                    .where(ENTRY.c.seq > after, ENTRY.c.seq <= up_to_seq)
                    .order_by(ENTRY.c.seq)
                    .limit(chunk)
                )
            ).all()
            if not rows:
                return
            entries = []
            for row in rows:
                values = list(row)
                values[at] = chain_instant(values[at])
                entries.append(dict(zip(names, values, strict=True)))
            yield entries
            after = int(entries[-1]["seq"])
