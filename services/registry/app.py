"""Composition root of the registry service: people, households, registration, employment,
trainings, categories."""

from __future__ import annotations

from fastapi import FastAPI

from contracts.topics import (
    MONITORING_WARNING,
    REGISTRY_EMPLOYMENT,
    REGISTRY_HOUSEHOLD,
    REGISTRY_PERSON,
    SHARING_FACT,
    SHARING_SENSITIVE_FACT,
)
from services.kit.app import ServiceDefinition, Subscription, create_service_app
from services.kit.clock import Clock, clock_of
from services.registry.employments.endpoints import router as employments_router
from services.registry.facts.handlers import fact_batch_handler, fact_handler
from services.registry.households.endpoints import router as households_router
from services.registry.indicators.endpoints import router as indicators_router
from services.registry.indicators.metrics import keep_indicators_fresh
from services.registry.persons.endpoints import router as persons_router
from services.registry.persons.service import person_services
from services.registry.persons.tasks import run_daily
from services.registry.settings import RegistrySettings
from services.registry.trainings.endpoints import router as trainings_router
from services.registry.warnings.endpoints import router as warnings_router

DESCRIPTION = """People, households, unemployment and employment registration (就业失业登记), trainings,
social-insurance months and the difficulty categories (就业困难人员) that decide who gets help.

Resident id numbers are stored encrypted and shown masked; events name people by `person_id`."""


def create_app(settings: RegistrySettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or RegistrySettings()
    clock = clock or clock_of(settings.clock_offset_days)
    persons = person_services(settings, clock)

    async def daily_sweep(app: FastAPI) -> None:
        await run_daily(app.state.db, persons, clock)

    app = create_service_app(
        ServiceDefinition(
            name="registry",
            title="Registry",
            description=DESCRIPTION,
            routers=[
                persons_router,
                employments_router,
                trainings_router,
                households_router,
                indicators_router,
                warnings_router,
            ],
            publishes=[REGISTRY_PERSON, REGISTRY_EMPLOYMENT, REGISTRY_HOUSEHOLD, MONITORING_WARNING],
            subscriptions=[
                Subscription(
                    "facts",
                    [SHARING_FACT, SHARING_SENSITIVE_FACT],
                    fact_handler(persons),
                    batch_handler=fact_batch_handler(persons),
                )
            ],
            background=[*([daily_sweep] if settings.daily_sweep else []), keep_indicators_fresh],
        ),
        settings,
        clock,
    )
    app.state.persons = persons
    return app
