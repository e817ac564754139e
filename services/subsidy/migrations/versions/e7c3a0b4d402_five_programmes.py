"""five programmes: businesses and watermarks projected, grants used up once, public notices,
payments instructed again after a failure, applications that wait for the facts; kit progress

Existing data: one-time applications approved or paid hold their grant (`once`); of several open
one-time applications of one beneficiary (earlier releases allowed several `ineligible` ones, judged
once and never again) all but the newest are closed as `rejected`, so at most one stays open.

Revision ID: e7c3a0b4d402
Revises: c5a1e0f7d202
Create Date: 2026-12-03 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import services.kit.db
from services.kit.migrations import kit_progress_downgrade, kit_progress_upgrade

revision: str = 'e7c3a0b4d402'
down_revision: str | None = 'c5a1e0f7d202'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    kit_progress_upgrade()
    op.create_table('subsidy_business',
    sa.Column('credit_code', sqlmodel.sql.sqltypes.AutoString(length=18), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('legal_rep_subject_ref', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('established_on', sa.Date(), nullable=False),
    sa.Column('deregistered_on', sa.Date(), nullable=True),
    sa.Column('fact_id', sa.Uuid(), nullable=False),
    sa.Column('updated_at', services.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('credit_code')
    )
    with op.batch_alter_table('subsidy_business', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subsidy_business_legal_rep_subject_ref'), ['legal_rep_subject_ref'], unique=False)

    op.create_table('subsidy_watermark',
    sa.Column('service', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('as_of', services.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('positions', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('service', 'as_of')
    )
    op.create_table('subsidy_grant',
    sa.Column('programme', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('beneficiary_person_id', sa.Uuid(), nullable=False),
    sa.Column('unit', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('application_id', sa.Uuid(), nullable=False),
    sa.Column('granted_at', services.kit.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['subsidy_application.application_id'], ),
    sa.PrimaryKeyConstraint('programme', 'beneficiary_person_id', 'unit')
    )
    with op.batch_alter_table('subsidy_grant', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subsidy_grant_application_id'), ['application_id'], unique=False)

    op.create_table('subsidy_notice',
    sa.Column('notice_id', sa.Uuid(), nullable=False),
    sa.Column('application_id', sa.Uuid(), nullable=False),
    sa.Column('programme', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('name_masked', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('town', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('payee_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('approved_on', sa.Date(), nullable=False),
    sa.Column('until', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['subsidy_application.application_id'], ),
    sa.PrimaryKeyConstraint('notice_id'),
    sa.UniqueConstraint('application_id')
    )
    with op.batch_alter_table('subsidy_notice', schema=None) as batch_op:
        batch_op.create_index('ix_subsidy_notice_listing', ['approved_on', 'notice_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_subsidy_notice_until'), ['until'], unique=False)

    with op.batch_alter_table('subsidy_application', schema=None) as batch_op:
        batch_op.add_column(sa.Column('business_credit_code', sqlmodel.sql.sqltypes.AutoString(length=18), nullable=True))
        batch_op.add_column(sa.Column('training_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('months', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('first_evaluated_at', services.kit.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('payee_kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True))
        batch_op.add_column(sa.Column('payee_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
        batch_op.add_column(sa.Column('payee_credit_code', sqlmodel.sql.sqltypes.AutoString(length=18), nullable=True))
        batch_op.add_column(sa.Column('payee_person_id', sa.Uuid(), nullable=True))
        batch_op.alter_column('evaluated_on',
               existing_type=sa.DATE(),
               nullable=True)
        batch_op.drop_index(batch_op.f('uq_subsidy_application_one_time_live'), sqlite_where=sa.text("one_time AND status IN ('submitted', 'eligible', 'approved', 'paid')"))
        batch_op.create_index('ix_subsidy_application_business', ['business_credit_code'], unique=False)
        batch_op.create_index('ix_subsidy_application_status', ['status', 'created_at'], unique=False)

    op.execute(
        sa.text(
            "UPDATE subsidy_application SET status = 'rejected', decided_by = 'migration-e7c3a0b4d402', "
            "decision_note = 'closed on upgrade: a newer application of this one-time programme is open', "
            "decided_at = updated_at "
            "WHERE one_time AND status IN ('submitted', 'eligible', 'ineligible') AND EXISTS ("
            "SELECT 1 FROM subsidy_application AS newer WHERE newer.programme = subsidy_application.programme "
            "AND newer.beneficiary_person_id = subsidy_application.beneficiary_person_id AND newer.one_time "
            "AND newer.status IN ('submitted', 'eligible', 'ineligible') "
            "AND (newer.created_at, newer.application_id) > (subsidy_application.created_at, subsidy_application.application_id))"
        )
    )
    op.execute(
        sa.text(
            "INSERT INTO subsidy_grant (programme, beneficiary_person_id, unit, application_id, granted_at) "
            "SELECT programme, beneficiary_person_id, 'once', application_id, COALESCE(decided_at, updated_at) "
            "FROM subsidy_application WHERE one_time AND status IN ('approved', 'paid')"
        )
    )
    # A failed payment's application holds its grant too (it may be paid yet), unless another one of
    # the programme was approved or paid for the beneficiary since.
    op.execute(
        sa.text(
            "INSERT INTO subsidy_grant (programme, beneficiary_person_id, unit, application_id, granted_at) "
            "SELECT programme, beneficiary_person_id, 'once', application_id, COALESCE(decided_at, updated_at) "
            "FROM subsidy_application AS failed WHERE one_time AND status = 'payment_failed' "
            "AND NOT EXISTS (SELECT 1 FROM subsidy_grant AS held WHERE held.programme = failed.programme "
            "AND held.beneficiary_person_id = failed.beneficiary_person_id AND held.unit = 'once') "
            "AND failed.created_at = (SELECT MAX(other.created_at) FROM subsidy_application AS other "
            "WHERE other.programme = failed.programme AND other.beneficiary_person_id = failed.beneficiary_person_id "
            "AND other.one_time AND other.status = 'payment_failed')"
        )
    )
    with op.batch_alter_table('subsidy_application', schema=None) as batch_op:
        batch_op.create_index('uq_subsidy_application_one_time_open', ['programme', 'beneficiary_person_id'], unique=True, postgresql_where=sa.text("one_time AND status IN ('submitted', 'eligible', 'ineligible')"), sqlite_where=sa.text("one_time AND status IN ('submitted', 'eligible', 'ineligible')"))

    # An application may now have several payments (failed ones before the live one). The unique
    # constraint was created unnamed: PostgreSQL named it, SQLite's is found by a naming convention.
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_constraint('subsidy_payment_application_id_key', 'subsidy_payment', type_='unique')
    else:
        with op.batch_alter_table(
            'subsidy_payment', naming_convention={'uq': 'uq_%(table_name)s_%(column_0_name)s'}
        ) as batch_op:
            batch_op.drop_constraint('uq_subsidy_payment_application_id', type_='unique')
    with op.batch_alter_table('subsidy_payment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subsidy_payment_application_id'), ['application_id'], unique=False)
        batch_op.create_index('uq_subsidy_payment_live_per_application', ['application_id'], unique=True, postgresql_where=sa.text("status IN ('instructed', 'settled')"), sqlite_where=sa.text("status IN ('instructed', 'settled')"))

    with op.batch_alter_table('subsidy_person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subject_ref', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_subsidy_person_subject_ref'), ['subject_ref'], unique=False)
    op.execute(sa.text("UPDATE subsidy_person SET subject_ref = json_extract(snapshot, '$.subject_ref')")
               if op.get_bind().dialect.name == 'sqlite'
               else sa.text("UPDATE subsidy_person SET subject_ref = snapshot::json ->> 'subject_ref'"))


def downgrade() -> None:
    with op.batch_alter_table('subsidy_person', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subsidy_person_subject_ref'))
        batch_op.drop_column('subject_ref')

    with op.batch_alter_table('subsidy_payment', schema=None) as batch_op:
        batch_op.drop_index('uq_subsidy_payment_live_per_application', postgresql_where=sa.text("status IN ('instructed', 'settled')"), sqlite_where=sa.text("status IN ('instructed', 'settled')"))
        batch_op.drop_index(batch_op.f('ix_subsidy_payment_application_id'))
        batch_op.create_unique_constraint('subsidy_payment_application_id_key', ['application_id'])

    with op.batch_alter_table('subsidy_application', schema=None) as batch_op:
        batch_op.drop_index('uq_subsidy_application_one_time_open', postgresql_where=sa.text("one_time AND status IN ('submitted', 'eligible', 'ineligible')"), sqlite_where=sa.text("one_time AND status IN ('submitted', 'eligible', 'ineligible')"))
        batch_op.drop_index('ix_subsidy_application_status')
        batch_op.drop_index('ix_subsidy_application_business')
        batch_op.create_index(batch_op.f('uq_subsidy_application_one_time_live'), ['programme', 'beneficiary_person_id'], unique=1, postgresql_where=sa.text("one_time AND status IN ('submitted', 'eligible', 'approved', 'paid')"), sqlite_where=sa.text("one_time AND status IN ('submitted', 'eligible', 'approved', 'paid')"))
        batch_op.alter_column('evaluated_on',
               existing_type=sa.DATE(),
               nullable=False)
        batch_op.drop_column('payee_person_id')
        batch_op.drop_column('payee_credit_code')
        batch_op.drop_column('payee_name')
        batch_op.drop_column('payee_kind')
        batch_op.drop_column('first_evaluated_at')
        batch_op.drop_column('months')
        batch_op.drop_column('training_id')
        batch_op.drop_column('business_credit_code')

    with op.batch_alter_table('subsidy_notice', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subsidy_notice_until'))
        batch_op.drop_index('ix_subsidy_notice_listing')

    op.drop_table('subsidy_notice')
    with op.batch_alter_table('subsidy_grant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subsidy_grant_application_id'))

    op.drop_table('subsidy_grant')
    op.drop_table('subsidy_watermark')
    with op.batch_alter_table('subsidy_business', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subsidy_business_legal_rep_subject_ref'))

    op.drop_table('subsidy_business')
    kit_progress_downgrade()
