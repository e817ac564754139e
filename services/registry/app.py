"""Composition root of the registry service: people, registration, employment, categories."""

from __future__ import annotations

from fastapi import FastAPI

from contracts.topics import REGISTRY_EMPLOYMENT, REGISTRY_PERSON, SHARING_FACT
from services.kit.app import ServiceDefinition, Subscription, create_service_app
from services.registry.employments.endpoints import router as employments_router
from services.registry.facts.handlers import fact_handler
from services.registry.persons.endpoints import router as persons_router
from services.registry.persons.service import person_services
from services.registry.settings import RegistrySettings

DESCRIPTION = """People, households, unemployment and employment registration (就业失业登记), social-insurance
months and the difficulty categories (就业困难人员) that decide who gets help.

Resident id numbers are stored encrypted and shown masked; events name people by `person_id`."""


def create_app(settings: RegistrySettings | None = None) -> FastAPI:
    settings = settings or RegistrySettings()
    persons = person_services(settings)
    app = create_service_app(
        ServiceDefinition(
            name="registry",
            title="Registry",
            description=DESCRIPTION,
            routers=[persons_router, employments_router],
            publishes=[REGISTRY_PERSON, REGISTRY_EMPLOYMENT],
            subscriptions=[Subscription("facts", [SHARING_FACT], fact_handler(persons))],
        ),
        settings,
    )
    app.state.persons = persons
    return app
