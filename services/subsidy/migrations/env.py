"""Alembic environment of the subsidy service: its own tables plus the kit's."""

from services.kit.migrations import run_env
from services.subsidy.tables import TABLES

run_env(TABLES)
