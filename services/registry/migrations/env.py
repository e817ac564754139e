"""Alembic environment of the registry service: its own tables plus the kit's."""

from services.registry.tables import TABLES
from services.kit.migrations import run_env

run_env(TABLES)
