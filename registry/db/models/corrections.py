"""Corrections: append-only events that re-declare or retract a lineage edge, or retract or
supersede an evaluation result. Nothing they correct is deleted; each row is logged."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from registry.db.models.core import timestamp_field

#: what a correction does; also the kind of the transparency-log leaf that records it
CORRECTION_ACTIONS = (
    "lineage.declare",
    "lineage.retract",
    "evaluation.retract",
    "evaluation.supersede",
)


class Correction(SQLModel, table=True):
    """One correction: a lineage edge declared (again) or retracted, or an evaluation result
    retracted or superseded by ``replacement_id``."""

    __tablename__ = "correction"

    id: int | None = Field(default=None, primary_key=True)
    action: str = Field(max_length=32, description="one of CORRECTION_ACTIONS")
    edge_id: int | None = Field(
        default=None, foreign_key="lineage_edge.id", index=True, ondelete="CASCADE"
    )
    result_id: int | None = Field(
        default=None, foreign_key="eval_result.id", index=True, ondelete="CASCADE"
    )
    replacement_id: int | None = Field(
        default=None, foreign_key="eval_result.id", ondelete="CASCADE"
    )
    relation: str | None = Field(default=None, max_length=32, description="as declared")
    reason: str | None = Field(default=None, sa_type=Text)
    actor: str | None = Field(default=None, max_length=64, description="the writing token's id")
    statement_id: int | None = Field(
        default=None,
        foreign_key="signed_statement.id",
        ondelete="CASCADE",
        description="the signed statement, when signed",
    )
    created_at: datetime = timestamp_field()
