"""jobs: fingerprint jobs for the worker fleet

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 07:30:00

"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('fingerprint_job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('repo_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('commit', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('endpoint', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('worker', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('repo_id', 'commit', name='uq_fingerprint_job_commit')
    )
    with op.batch_alter_table('fingerprint_job', schema=None) as batch_op:
        batch_op.create_index('ix_fingerprint_job_state', ['state', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('fingerprint_job', schema=None) as batch_op:
        batch_op.drop_index('ix_fingerprint_job_state')
    op.drop_table('fingerprint_job')
