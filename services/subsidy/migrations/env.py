"""Alembic environment of the subsidy service: its own tables plus the kit's."""

from services.subsidy.tables import TABLES
from services.kit.migrations import run_env

run_env(TABLES)
