"""kit: partial indexes for the outbox relay's claim

Revision ID: b1d2e3f4a611
Revises: a9c0e1f2d511
Create Date: 2026-12-04 22:40:00
"""

from collections.abc import Sequence

from services.kit.migrations import kit_relay_indexes_downgrade, kit_relay_indexes_upgrade

revision: str = "b1d2e3f4a611"
down_revision: str | None = "a9c0e1f2d511"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    kit_relay_indexes_upgrade()


def downgrade() -> None:
    kit_relay_indexes_downgrade()
