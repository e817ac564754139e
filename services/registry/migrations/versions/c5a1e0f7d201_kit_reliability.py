"""kit reliability: inbox keyed by consumer group with payload digests, idempotency commit marker,
outbox broker clusters

Revision ID: c5a1e0f7d201
Revises: bb8782d279cb
Create Date: 2026-12-01 22:00:00
"""

from collections.abc import Sequence

from services.kit.migrations import kit_reliability_downgrade, kit_reliability_upgrade

revision: str = "c5a1e0f7d201"
down_revision: str | None = "bb8782d279cb"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    kit_reliability_upgrade("registry")


def downgrade() -> None:
    kit_reliability_downgrade()
