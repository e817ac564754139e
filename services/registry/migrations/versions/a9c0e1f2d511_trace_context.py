"""kit: the traceparent of each outbox row

Revision ID: a9c0e1f2d511
Revises: f1a2b3c4d510
Create Date: 2026-12-04 20:10:00
"""

from collections.abc import Sequence

from services.kit.migrations import kit_trace_context_downgrade, kit_trace_context_upgrade

revision: str = "a9c0e1f2d511"
down_revision: str | None = "f1a2b3c4d510"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    kit_trace_context_upgrade()


def downgrade() -> None:
    kit_trace_context_downgrade()
