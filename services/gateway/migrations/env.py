"""Alembic environment of the gateway service: its own tables plus the kit's."""

from services.gateway.tables import TABLES
from services.kit.migrations import run_env

run_env(TABLES)
