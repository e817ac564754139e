"""Alembic environment of the registry service: its own tables plus the kit's."""

from services.kit.migrations import run_env
from services.registry.tables import TABLES

run_env(TABLES)
