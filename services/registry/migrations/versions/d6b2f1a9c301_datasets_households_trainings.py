"""every dataset counts: households, trainings, businesses, hukou area, published categories

Revision ID: d6b2f1a9c301
Revises: c5a1e0f7d201
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.kit.db import UTCDateTime

revision: str = "d6b2f1a9c301"
down_revision: str | None = "c5a1e0f7d201"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("registry_person") as batch:
        batch.add_column(sa.Column("hukou_area_code", sa.String(length=6), nullable=True))
        batch.add_column(sa.Column("published_categories", sa.String(length=4000), nullable=False, server_default=""))
    with op.batch_alter_table("registry_person_fact") as batch:
        batch.drop_column("category")
    op.create_table(
        "registry_training",
        sa.Column("training_id", sa.Uuid(), primary_key=True),
        sa.Column("person_id", sa.Uuid(), sa.ForeignKey("registry_person.person_id"), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("completed_on", sa.Date(), nullable=False),
        sa.Column("certificate_level", sa.String(length=32), nullable=True),
        sa.Column("provider", sa.String(length=200), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_registry_training_person_id", "registry_training", ["person_id"])
    op.create_table(
        "registry_household",
        sa.Column("household_no", sa.String(length=64), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("zero_employment", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("since", sa.Date(), nullable=True),
        sa.Column("town", sa.String(length=100), nullable=True),
        sa.Column("published_members", sa.String(length=8000), nullable=False, server_default=""),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_registry_household_zero_employment", "registry_household", ["zero_employment"])
    op.create_index("ix_registry_household_town", "registry_household", ["town"])
    op.create_table(
        "registry_business",
        sa.Column("credit_code", sa.String(length=18), primary_key=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("legal_rep_subject_ref", sa.String(length=64), nullable=False),
        sa.Column("established_on", sa.Date(), nullable=False),
        sa.Column("deregistered_on", sa.Date(), nullable=True),
        sa.Column("fact_id", sa.Uuid(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_registry_business_legal_rep_subject_ref", "registry_business", ["legal_rep_subject_ref"])


def downgrade() -> None:
    op.drop_table("registry_business")
    op.drop_table("registry_household")
    op.drop_table("registry_training")
    with op.batch_alter_table("registry_person_fact") as batch:
        batch.add_column(sa.Column("category", sa.String(length=32), nullable=False, server_default="low_income_family"))
    with op.batch_alter_table("registry_person") as batch:
        batch.drop_column("published_categories")
        batch.drop_column("hukou_area_code")
