"""Every query of the budgets feature. Each change is one conditional UPDATE, so concurrent
approvals never reserve more than is available (and the table's CHECK backs that up)."""

from __future__ import annotations

from sqlalchemy import CursorResult, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contracts.vocabulary import Programme
from services.kit.db import utcnow
from services.kit.pagination import paginate
from services.subsidy.budgets.schemas import BudgetsCursor
from services.subsidy.tables import Budget


class BudgetRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, programme: str, year: int) -> Budget | None:
        return await self.session.get(Budget, (programme, year), populate_existing=True)

    async def page(
        self, *, limit: int, cursor: str | None, programme: Programme | None, year: int | None
    ) -> tuple[list[Budget], str | None]:
        """One page of budgets by programme, then year, and the cursor of the next."""
        query = select(Budget)
        if programme is not None:
            query = query.where(Budget.programme == programme)
        if year is not None:
            query = query.where(Budget.year == year)
        return await paginate(
            self.session,
            query,
            keys=[col(Budget.programme), col(Budget.year)],
            position=BudgetsCursor,
            limit=limit,
            cursor=cursor,
        )

    async def _update(self, programme: str, year: int, condition: object, **values: object) -> bool:
        statement = (
            update(Budget)
            .where(col(Budget.programme) == programme, col(Budget.year) == year, condition)  # type: ignore[arg-type]
            .values(**values, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(statement)
        assert isinstance(result, CursorResult)
        return result.rowcount == 1

    async def set_amount(self, programme: str, year: int, amount_fen: int) -> bool:
        """False when the budget would fall below what is already reserved and spent."""
        return await self._update(
            programme, year, col(Budget.reserved_fen) + col(Budget.spent_fen) <= amount_fen, amount_fen=amount_fen
        )

    async def reserve(self, programme: str, year: int, amount_fen: int) -> bool:
        """False when there is no such budget or not enough left."""
        return await self._update(
            programme,
            year,
            col(Budget.amount_fen) - col(Budget.reserved_fen) - col(Budget.spent_fen) >= amount_fen,
            reserved_fen=col(Budget.reserved_fen) + amount_fen,
        )

    async def spend(self, programme: str, year: int, amount_fen: int) -> bool:
        return await self._update(
            programme,
            year,
            col(Budget.reserved_fen) >= amount_fen,
            reserved_fen=col(Budget.reserved_fen) - amount_fen,
            spent_fen=col(Budget.spent_fen) + amount_fen,
        )

    async def release(self, programme: str, year: int, amount_fen: int) -> bool:
        return await self._update(
            programme, year, col(Budget.reserved_fen) >= amount_fen, reserved_fen=col(Budget.reserved_fen) - amount_fen
        )

    def add(self, budget: Budget) -> None:
        self.session.add(budget)
