"""Alembic environment of the gateway service: its own tables only (no outbox, inbox or
idempotency records: the gateway publishes no events and forwards Idempotency-Key untouched)."""

from services.gateway.tables import TABLES
from services.kit.migrations import run_env

run_env(TABLES, include_kit_tables=False)
