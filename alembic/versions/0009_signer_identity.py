"""signer identity: who signed a keyless (Sigstore) bundle attached to a variant

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 12:20:00

"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('attached_signature', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signer_identity', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('signer_issuer', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column(
            'trust_root_sha256', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True
        ))


def downgrade() -> None:
    with op.batch_alter_table('attached_signature', schema=None) as batch_op:
        batch_op.drop_column('trust_root_sha256')
        batch_op.drop_column('signer_issuer')
        batch_op.drop_column('signer_identity')
