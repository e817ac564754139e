"""kit progress: outbox positions (for watermarks) and consumer positions

Revision ID: e7c3a0b4d403
Revises: c5a1e0f7d203
Create Date: 2026-12-03 14:00:00
"""

from collections.abc import Sequence

from services.kit.migrations import kit_progress_downgrade, kit_progress_upgrade

revision: str = "e7c3a0b4d403"
down_revision: str | None = "c5a1e0f7d203"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    kit_progress_upgrade()


def downgrade() -> None:
    kit_progress_downgrade()
