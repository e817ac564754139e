"""Composition root of the subsidy service: programmes, applications, budgets, payments and public
notices, over its own projections of the registry and of sharing."""

from __future__ import annotations

from fastapi import FastAPI

from contracts.topics import (
    OUTBOX_WATERMARK,
    REGISTRY_EMPLOYMENT,
    REGISTRY_PERSON,
    SHARING_FACT,
    SUBSIDY_APPLICATION,
    SUBSIDY_PAYMENT,
)
from services.kit.app import Rebuildable, ServiceDefinition, Subscription, create_service_app
from services.kit.clock import Clock, clock_of
from services.subsidy.applications.consistency import Consistency
from services.subsidy.applications.endpoints import router as applications_router
from services.subsidy.applications.tasks import evaluate_submitted
from services.subsidy.budgets.endpoints import router as budgets_router
from services.subsidy.metrics import keep_gauges_fresh
from services.subsidy.notices.endpoints import router as notices_router
from services.subsidy.payments.endpoints import router as payments_router
from services.subsidy.programmes.endpoints import router as programmes_router
from services.subsidy.programmes.registry import Catalogue
from services.subsidy.projections.endpoints import router as beneficiaries_router
from services.subsidy.projections.handlers import Projections
from services.subsidy.settings import SubsidySettings
from services.subsidy.tables import ProjectedBusiness, ProjectedCategory, ProjectedEmployment, ProjectedPerson

# Consumer names: each names a consumer group (`<prefix>subsidy.<name>`) and its inbox; a new
# SUBSIDY_KAFKA_CONSUMER_GROUP_PREFIX rebuilds the projections from the topics' start.
PROJECTION_CONSUMER = "registry-projection"
SHARING_CONSUMER = "sharing-projection"
WATERMARK_CONSUMER = "watermarks"

DESCRIPTION = """Subsidy programmes of the plan (补贴), applications judged rule by rule with evidence on
everything the registry and sharing had accepted before them, four-eyes decisions, yearly budgets
that are never overspent, payments settled by the treasury, and public notices (公示).

A one-time programme pays a beneficiary at most once, and a month of social insurance is paid at
most once, enforced by the database."""


async def watch_horizon(app: FastAPI) -> None:
    await app.state.consistency.watch(app.state.db)


def create_app(
    settings: SubsidySettings | None = None, clock: Clock | None = None, catalogue: Catalogue | None = None
) -> FastAPI:
    """The subsidy app; `clock` decides the bureau's today (evaluations, budget years, notices), so
    tests can fix the day; `catalogue` the programmes (each from its own settings by default)."""
    settings = settings or SubsidySettings()
    clock = clock or clock_of(settings.clock_offset_days)
    catalogue = catalogue or Catalogue()
    group = f"{settings.kafka_consumer_group_prefix}subsidy."
    consistency = Consistency(
        settings.consistency_sources,
        {
            REGISTRY_PERSON: group + PROJECTION_CONSUMER,
            REGISTRY_EMPLOYMENT: group + PROJECTION_CONSUMER,
            SHARING_FACT: group + SHARING_CONSUMER,
        },
        settings.consistency_clock_margin_s,
    )
    projections = Projections(clock, catalogue, consistency)
    app = create_service_app(
        ServiceDefinition(
            name="subsidy",
            title="Subsidy",
            description=DESCRIPTION,
            routers=[
                programmes_router,
                applications_router,
                budgets_router,
                payments_router,
                notices_router,
                beneficiaries_router,
            ],
            publishes=[SUBSIDY_APPLICATION, SUBSIDY_PAYMENT],
            subscriptions=[
                Subscription(
                    PROJECTION_CONSUMER,
                    [REGISTRY_PERSON, REGISTRY_EMPLOYMENT],
                    projections.registry,
                    batch_handler=projections.registry_together,
                    batch_topics=[REGISTRY_PERSON],
                ),
                Subscription(
                    SHARING_CONSUMER, [SHARING_FACT], projections.sharing, batch_handler=projections.sharing_together
                ),
                Subscription(
                    WATERMARK_CONSUMER, [OUTBOX_WATERMARK], projections.watermarks, inbox=False, from_latest=True
                ),
            ],
            background=[evaluate_submitted, keep_gauges_fresh, watch_horizon],
            rebuildable=Rebuildable(
                tables=[
                    ProjectedCategory.__tablename__,
                    ProjectedEmployment.__tablename__,
                    ProjectedBusiness.__tablename__,
                    ProjectedPerson.__tablename__,
                ],
                consumers=[PROJECTION_CONSUMER, SHARING_CONSUMER],
            ),
        ),
        settings,
        clock=clock,
    )
    app.state.catalogue = catalogue
    app.state.consistency = consistency
    return app
