"""Yearly budgets of the programmes: set by an administrator, reserved by approvals, spent by
settlements, released by failed payments. A budget can never be overspent."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.vocabulary import Programme
from services.subsidy.budgets.repository import BudgetRepository
from services.subsidy.budgets.schemas import BudgetSet
from services.subsidy.money import cny
from services.subsidy.problems import BudgetBelowCommitted, BudgetExhausted, NoBudget, ProgrammeNotFound
from services.subsidy.programmes.registry import Catalogue
from services.subsidy.tables import Budget


class BudgetBookkeepingError(RuntimeError):
    """A reservation to spend or release is missing: a bug, never a caller's mistake."""


class BudgetService:
    def __init__(self, session: AsyncSession, catalogue: Catalogue) -> None:
        self.session = session
        self.catalogue = catalogue
        self.repo = BudgetRepository(session)

    async def set(self, programme: str, year: int, data: BudgetSet) -> Budget:
        if self.catalogue.get(programme) is None:
            raise ProgrammeNotFound(
                f"there is no programme {programme!r}", programme=programme, programmes=self.catalogue.codes
            )
        amount_fen = data.fen
        if await self.repo.get(programme, year) is None:
            try:
                async with self.session.begin_nested():
                    self.repo.add(Budget(programme=programme, year=year, amount_fen=amount_fen))
                return await self._get(programme, year)
            except IntegrityError:
                pass  # set concurrently by another request: update it below
        if not await self.repo.set_amount(programme, year, amount_fen):
            current = await self._get(programme, year)
            committed = current.reserved_fen + current.spent_fen
            raise BudgetBelowCommitted(
                f"the {year} budget of {programme} cannot be {cny(amount_fen)} CNY: "
                f"{cny(committed)} CNY is already reserved or spent",
                reserved_fen=current.reserved_fen,
                spent_fen=current.spent_fen,
            )
        return await self._get(programme, year)

    async def _get(self, programme: str, year: int) -> Budget:
        budget = await self.repo.get(programme, year)
        assert budget is not None
        return budget

    async def reserve(self, programme: str, year: int, amount_fen: int) -> None:
        if await self.repo.reserve(programme, year, amount_fen):
            return
        budget = await self.repo.get(programme, year)
        if budget is None:
            raise NoBudget(
                f"no {year} budget is set for {programme}; an administrator sets it with "
                f"PUT /subsidy/v1/budgets/{programme}/{year}",
                programme=programme,
                year=year,
            )
        available = budget.amount_fen - budget.reserved_fen - budget.spent_fen
        raise BudgetExhausted(
            f"the {year} budget of {programme} has {cny(available)} CNY left; this grant needs {cny(amount_fen)} CNY",
            programme=programme,
            year=year,
            available_fen=available,
            needed_fen=amount_fen,
        )

    async def spend(self, programme: str, year: int, amount_fen: int) -> None:
        if not await self.repo.spend(programme, year, amount_fen):
            raise BudgetBookkeepingError(f"no reservation of {amount_fen} fen in {programme}/{year} to spend")

    async def release(self, programme: str, year: int, amount_fen: int) -> None:
        if not await self.repo.release(programme, year, amount_fen):
            raise BudgetBookkeepingError(f"no reservation of {amount_fen} fen in {programme}/{year} to release")

    async def page(
        self, *, limit: int, cursor: str | None, programme: Programme | None, year: int | None
    ) -> tuple[list[Budget], str | None]:
        return await self.repo.page(limit=limit, cursor=cursor, programme=programme, year=year)
