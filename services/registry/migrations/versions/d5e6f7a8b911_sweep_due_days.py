"""registry: the days people and households are next due for the daily sweep

Revision ID: d5e6f7a8b911
Revises: c4d5e6f7a811
Create Date: 2026-12-05 22:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d5e6f7a8b911"
down_revision: str | None = "c4d5e6f7a811"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NULL for every existing row: the first sweep after the upgrade looks at everyone once.
    op.add_column("registry_person", sa.Column("categories_due_on", sa.Date(), nullable=True))
    op.create_index("ix_registry_person_categories_due_on", "registry_person", ["categories_due_on"])
    op.add_column("registry_household", sa.Column("due_on", sa.Date(), nullable=True))
    op.create_index("ix_registry_household_due_on", "registry_household", ["due_on"])


def downgrade() -> None:
    op.drop_index("ix_registry_household_due_on", table_name="registry_household")
    op.drop_column("registry_household", "due_on")
    op.drop_index("ix_registry_person_categories_due_on", table_name="registry_person")
    op.drop_column("registry_person", "categories_due_on")
