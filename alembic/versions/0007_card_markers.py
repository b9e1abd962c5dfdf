"""card markers: an explicit variant.card_markers column instead of a key inside config

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 07:20:00

"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# where `register --card` kept the markers before this revision
LEGACY_KEY = 'provreg_card'

_variant = sa.table(
    'variant',
    sa.column('id', sa.Integer()),
    sa.column('config', sa.JSON()),
    sa.column('card_markers', sa.JSON()),
)


def _rows(connection: Any, where: Any) -> list[Any]:
    return list(connection.execute(
        sa.select(_variant.c.id, _variant.c.config, _variant.c.card_markers).where(where)
    ))


def upgrade() -> None:
    with op.batch_alter_table('variant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('card_markers', sa.JSON(), nullable=True))
    connection = op.get_bind()
    for vid, config, _ in _rows(connection, _variant.c.config.isnot(None)):
        if isinstance(config, dict) and LEGACY_KEY in config:
            rest = {k: v for k, v in config.items() if k != LEGACY_KEY}
            connection.execute(
                _variant.update().where(_variant.c.id == vid).values(
                    config=rest or None, card_markers=config[LEGACY_KEY]
                )
            )


def downgrade() -> None:
    connection = op.get_bind()
    for vid, config, card in _rows(connection, _variant.c.card_markers.isnot(None)):
        if card is None:  # a JSON null
            continue
        merged = {**(config if isinstance(config, dict) else {}), LEGACY_KEY: card}
        connection.execute(
            _variant.update().where(_variant.c.id == vid).values(config=merged)
        )
    with op.batch_alter_table('variant', schema=None) as batch_op:
        batch_op.drop_column('card_markers')
