"""kit: the outbox's bulk lane

Revision ID: c4d5e6f7a813
Revises: c3d4e5f6a713
Create Date: 2026-12-05 04:10:00
"""

from collections.abc import Sequence

from services.kit.migrations import kit_bulk_lane_downgrade, kit_bulk_lane_upgrade

revision: str = "c4d5e6f7a813"
down_revision: str | None = "c3d4e5f6a713"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    kit_bulk_lane_upgrade()


def downgrade() -> None:
    kit_bulk_lane_downgrade()
