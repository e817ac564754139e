"""sharing: raw batch bodies dropped after a retention (issue 11)

Revision ID: c3d4e5f6a713
Revises: b1d2e3f4a613
Create Date: 2026-12-05 00:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.kit.db import UTCDateTime

revision: str = "c3d4e5f6a713"
down_revision: str | None = "b1d2e3f4a613"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sharing_batch") as batch:
        batch.alter_column("raw_sealed", existing_type=sa.LargeBinary(), nullable=True)
        batch.add_column(sa.Column("raw_purged_at", UTCDateTime(timezone=True), nullable=True))
    kept = sa.text("raw_purged_at IS NULL")
    op.create_index(
        "ix_sharing_batch_raw_kept", "sharing_batch", ["received_at"], postgresql_where=kept, sqlite_where=kept
    )


def downgrade() -> None:
    op.drop_index("ix_sharing_batch_raw_kept", table_name="sharing_batch")
    # A purged body cannot come back: an empty one stands in, the batch and its records stay.
    batches = sa.table("sharing_batch", sa.column("raw_sealed", sa.LargeBinary()))
    op.execute(batches.update().where(batches.c.raw_sealed.is_(None)).values(raw_sealed=b""))
    with op.batch_alter_table("sharing_batch") as batch:
        batch.drop_column("raw_purged_at")
        batch.alter_column("raw_sealed", existing_type=sa.LargeBinary(), nullable=False)
