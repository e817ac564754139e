"""The subsidy service's business metrics: applications by programme and status, amounts approved and
paid, budgets and what is available of them, the difficulty categories its projection holds (never a
sensitive one: the registry publishes those as `restricted_difficulty`, not counted here), and how
long an application waits for its first decision.

The gauges are counted from the database on a timer, so every replica reports the same truth; the
counters and the histogram move after the commit of what they count (`kit.db.after_commit`)."""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime

import sqlalchemy as sa
from fastapi import FastAPI
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contracts.vocabulary import SENSITIVE_CATEGORIES, Category
from services.kit.db import Database, after_commit, serial_plans
from services.subsidy.settings import SubsidySettings
from services.subsidy.tables import APPLICATION_STATUSES, Application, Budget, ProjectedCategory

log = logging.getLogger(__name__)

APPLICATIONS = Gauge("subsidy_applications", "Applications by programme and status", ["programme", "status"])
APPROVED_CNY = Counter("subsidy_approved_cny_total", "Amounts approved (reserved), in CNY", ["programme"])
PAID_CNY = Counter("subsidy_paid_cny_total", "Amounts paid (settled), in CNY", ["programme"])
BUDGET_AVAILABLE_CNY = Gauge(
    "subsidy_budget_available_cny", "Budget neither reserved nor spent, in CNY", ["programme", "year"]
)
BUDGET_CNY = Gauge("subsidy_budget_cny", "Budget allocated, in CNY", ["programme", "year"])
CATEGORIES_HELD = Gauge(
    "subsidy_categories_held",
    "Persons holding a difficulty category today, by category (never a sensitive one)",
    ["category"],
)
COUNTED_CATEGORIES = sorted(c.value for c in Category if c not in SENSITIVE_CATEGORIES)
FIRST_DECISION_SECONDS = Histogram(
    "subsidy_first_decision_seconds",
    "From submission to the first decision (eligible or ineligible)",
    ["programme"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0, 1800.0),
)


def count_first_decision(session: AsyncSession, programme: str, submitted_at: datetime, decided_at: datetime) -> None:
    seconds = max(0.0, (decided_at - submitted_at).total_seconds())
    after_commit(session, lambda: FIRST_DECISION_SECONDS.labels(programme).observe(seconds))


def count_approved(session: AsyncSession, programme: str, amount_fen: int) -> None:
    after_commit(session, lambda: APPROVED_CNY.labels(programme).inc(amount_fen / 100))


def count_paid(session: AsyncSession, programme: str, amount_fen: int) -> None:
    after_commit(session, lambda: PAID_CNY.labels(programme).inc(amount_fen / 100))


async def refresh_gauges(db: Database, programmes: list[str], today: date) -> None:
    async with db.sessionmaker() as session:
        await serial_plans(session)
        counts = await session.execute(
            select(Application.programme, Application.status, sa.func.count()).group_by(
                col(Application.programme), col(Application.status)
            )
        )
        by_key = {(programme, status): n for programme, status, n in counts.all()}
        budgets = (await session.execute(select(Budget))).scalars().all()
        held = dict(
            (
                await session.execute(
                    sa.select(
                        col(ProjectedCategory.category), sa.func.count(sa.distinct(col(ProjectedCategory.person_id)))
                    )
                    .where(col(ProjectedCategory.category).in_(COUNTED_CATEGORIES))
                    .where(col(ProjectedCategory.withdrawn_on).is_(None))
                    .where(col(ProjectedCategory.valid_from) <= today)
                    .where(
                        sa.or_(
                            col(ProjectedCategory.valid_until).is_(None), col(ProjectedCategory.valid_until) >= today
                        )
                    )
                    .group_by(col(ProjectedCategory.category))
                )
            ).all()
        )
    for programme in sorted(set(programmes) | {p for p, _ in by_key}):
        for status in APPLICATION_STATUSES:
            APPLICATIONS.labels(programme, status).set(by_key.get((programme, status), 0))
    for budget in budgets:
        available = budget.amount_fen - budget.reserved_fen - budget.spent_fen
        BUDGET_AVAILABLE_CNY.labels(budget.programme, str(budget.year)).set(available / 100)
        BUDGET_CNY.labels(budget.programme, str(budget.year)).set(budget.amount_fen / 100)
    for category in COUNTED_CATEGORIES:
        CATEGORIES_HELD.labels(category).set(held.get(category, 0))


async def keep_gauges_fresh(app: FastAPI) -> None:
    """Background task: the gauges from the database every `metrics_interval_s`."""
    settings: SubsidySettings = app.state.settings
    while True:
        try:
            await refresh_gauges(app.state.db, app.state.catalogue.codes, app.state.clock.today())
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("subsidy gauges not refreshed", extra={"error": repr(exc)[:200]})
        await asyncio.sleep(settings.metrics_interval_s)
