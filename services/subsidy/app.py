"""Composition root of the subsidy service: programmes, applications, budgets and payments,
over its own projection of the registry."""

from __future__ import annotations

from fastapi import FastAPI

from contracts.topics import REGISTRY_EMPLOYMENT, REGISTRY_PERSON, SUBSIDY_APPLICATION, SUBSIDY_PAYMENT
from services.kit.app import ServiceDefinition, Subscription, create_service_app
from services.kit.clock import Clock, clock_of
from services.subsidy.applications.endpoints import router as applications_router
from services.subsidy.budgets.endpoints import router as budgets_router
from services.subsidy.payments.endpoints import router as payments_router
from services.subsidy.programmes.endpoints import router as programmes_router
from services.subsidy.projections.endpoints import router as beneficiaries_router
from services.subsidy.projections.handlers import registry_projection
from services.subsidy.settings import SubsidySettings

# Names the consumer group (`<prefix>subsidy.registry-projection`) and the inbox; a new
# SUBSIDY_KAFKA_CONSUMER_GROUP_PREFIX rebuilds the projection from the topics' start.
PROJECTION_CONSUMER = "registry-projection"

DESCRIPTION = """Subsidy programmes of the plan (补贴), applications evaluated rule by rule with evidence,
four-eyes decisions, yearly budgets that are never overspent, and payments settled by the treasury.

A one-time programme pays a beneficiary at most once, enforced by the database."""


def create_app(settings: SubsidySettings | None = None, clock: Clock | None = None) -> FastAPI:
    """The subsidy app; `clock` decides the bureau's today (evaluations, budget years), so tests
    can fix the day."""
    settings = settings or SubsidySettings()
    clock = clock or clock_of(settings.clock_offset_days)
    return create_service_app(
        ServiceDefinition(
            name="subsidy",
            title="Subsidy",
            description=DESCRIPTION,
            routers=[programmes_router, applications_router, budgets_router, payments_router, beneficiaries_router],
            publishes=[SUBSIDY_APPLICATION, SUBSIDY_PAYMENT],
            subscriptions=[
                Subscription(PROJECTION_CONSUMER, [REGISTRY_PERSON, REGISTRY_EMPLOYMENT], registry_projection)
            ],
        ),
        settings,
        clock=clock,
    )
