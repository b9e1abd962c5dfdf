"""corrections: append-only lineage and evaluation corrections; imported results' file digest

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 11:45:00

"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('correction',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('edge_id', sa.Integer(), nullable=True),
    sa.Column('result_id', sa.Integer(), nullable=True),
    sa.Column('replacement_id', sa.Integer(), nullable=True),
    sa.Column('relation', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('statement_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['edge_id'], ['lineage_edge.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['replacement_id'], ['eval_result.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['result_id'], ['eval_result.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['statement_id'], ['signed_statement.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('correction', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_correction_edge_id'), ['edge_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_correction_result_id'), ['result_id'], unique=False)
    with op.batch_alter_table('eval_result', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('source_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.create_index(
            'ix_eval_result_variant_source', ['variant_id', 'source_sha256'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('eval_result', schema=None) as batch_op:
        batch_op.drop_index('ix_eval_result_variant_source')
        batch_op.drop_column('source_sha256')
    with op.batch_alter_table('correction', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_correction_result_id'))
        batch_op.drop_index(batch_op.f('ix_correction_edge_id'))
    op.drop_table('correction')
