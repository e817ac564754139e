"""Alembic environment of the sharing service: its own tables plus the kit's."""

from services.sharing.tables import TABLES
from services.kit.migrations import run_env

run_env(TABLES)
