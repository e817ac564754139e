"""The sharing service's composition root: routes, published topics and start-up checks."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from contracts.topics import SHARING_FACT, SHARING_SENSITIVE_FACT
from services.kit.app import ServiceDefinition, create_service_app
from services.kit.clock import Clock, clock_of

from .batches.endpoints import router as batches_router
from .settings import SharingSettings

log = logging.getLogger(__name__)


def create_app(settings: SharingSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or SharingSettings()
    clock = clock or clock_of(settings.clock_offset_days)
    definition = ServiceDefinition(
        name="sharing",
        title="Sharing service",
        description=(
            "The inter-agency bridge (数据共享): agencies push datasets as JSON or CSV; each record is "
            "validated, kept with its batch, and published as a canonical fact on `sharing.fact.v1`; facts of "
            "a sensitive dataset (special populations) only on `sharing.sensitive-fact.v1`."
        ),
        routers=[batches_router],
        publishes=[SHARING_FACT, SHARING_SENSITIVE_FACT],
    )
    return create_service_app(definition, settings, clock=clock)
