"""Alembic environment of the sharing service: its own tables plus the kit's."""

from services.kit.migrations import run_env
from services.sharing.tables import TABLES

run_env(TABLES)
