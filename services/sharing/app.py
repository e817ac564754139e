"""The sharing service's composition root: routes, published topics, its projection of the registry,
the inbound agreements recorded at start-up, and its background work."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from contracts.topics import (
    REGISTRY_EMPLOYMENT,
    REGISTRY_PERSON,
    SHARING_FACT,
    SHARING_SENSITIVE_FACT,
    SHARING_STATISTICS_REPORT,
)
from services.kit.app import Rebuildable, ServiceDefinition, Subscription, create_service_app
from services.kit.clock import Clock, clock_of
from services.kit.db import Database
from services.sharing.tables import (
    ProjectedCategory,
    ProjectedEmployment,
    ProjectedPerson,
    ProjectedRegistration,
    ProjectedTraining,
)

from .agreements.endpoints import router as agreements_router
from .agreements.service import record_inbound_agreements
from .audit.endpoints import router as audit_router
from .audit.tasks import verify_periodically
from .batches.endpoints import router as batches_router
from .batches.retention import purge_raw_periodically
from .projection.handlers import project_registry, project_registry_together
from .queries.endpoints import router as queries_router
from .settings import SharingSettings
from .statistics.endpoints import router as statistics_router
from .statistics.tasks import publish_closed_months
from .verification.endpoints import router as verification_router

log = logging.getLogger(__name__)

# Consumer name: its group is `<prefix>sharing.registry-projection`; a new
# SHARING_KAFKA_CONSUMER_GROUP_PREFIX rebuilds the projection from what the topics still hold (all of
# it on the embedded broker; with a real cluster's retention, see README "Known limits").
PROJECTION_CONSUMER = "registry-projection"


async def record_declared_agreements(app: FastAPI) -> None:
    db: Database = app.state.db
    async with db.sessionmaker() as session, session.begin():
        await record_inbound_agreements(session)


def create_app(settings: SharingSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or SharingSettings()
    clock = clock or clock_of(settings.clock_offset_days)
    definition = ServiceDefinition(
        name="sharing",
        title="Sharing service",
        description=(
            "The inter-agency bridge (数据共享), both ways. In: agencies push datasets as JSON or CSV; each record "
            "is validated, kept with its batch, and published as a canonical fact on `sharing.fact.v1` (a "
            "sensitive dataset's only on `sharing.sensitive-fact.v1`). Out, deny by default: agencies query "
            "`hrss/employment_status` under an agreement, check identities against public security's records, "
            "and the statistics bureau receives monthly aggregates with small cells suppressed. Every exchange "
            "is written to a hash-chained, append-only audit log that anyone with `sharing:read` can verify."
        ),
        routers=[
            batches_router,
            agreements_router,
            queries_router,
            verification_router,
            audit_router,
            statistics_router,
        ],
        publishes=[SHARING_FACT, SHARING_SENSITIVE_FACT, SHARING_STATISTICS_REPORT],
        subscriptions=[
            Subscription(
                PROJECTION_CONSUMER,
                [REGISTRY_PERSON, REGISTRY_EMPLOYMENT],
                project_registry,
                batch_handler=project_registry_together,
                batch_topics=[REGISTRY_PERSON],
            )
        ],
        on_startup=[record_declared_agreements],
        background=[verify_periodically, publish_closed_months, purge_raw_periodically],
        rebuildable=Rebuildable(
            tables=[
                ProjectedCategory.__tablename__,
                ProjectedRegistration.__tablename__,
                ProjectedTraining.__tablename__,
                ProjectedEmployment.__tablename__,
                ProjectedPerson.__tablename__,
            ],
            consumers=[PROJECTION_CONSUMER],
        ),
    )
    return create_service_app(definition, settings, clock=clock)
