"""Corrections on the wire: declare or retract a lineage edge, retract or supersede an
evaluation result. Each is an append-only, logged event."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.common import Relation, UtcDatetime
from schemas.evals import EvalResultPublic
from schemas.lineage import LineageEdgePublic

LineageOutcome = Literal["declared", "reactivated", "unchanged", "retracted"]


class LineageDeclare(BaseModel):
    """Declare that the child (the path's variant) descends from ``parent``."""

    parent: str = Field(description="NAME[@REV]; without @REV: main, else the latest registered")
    relation: Relation
    envelope: str | None = Field(
        default=None, max_length=1_000_000, description="a signed lineage correction statement"
    )


class LineageRetract(BaseModel):
    """Withdraw the child's declared edge to ``parent``; it stays listed as retracted."""

    parent: str = Field(description="NAME[@REV]")
    reason: str = Field(min_length=1, max_length=10_000)
    envelope: str | None = Field(
        default=None, max_length=1_000_000, description="a signed lineage correction statement"
    )


class LineageCorrectionPublic(BaseModel):
    """What a declaration or retraction did: ``unchanged`` when it was already so."""

    outcome: LineageOutcome
    edge: LineageEdgePublic
    log_index: int | None = Field(default=None, description="the correction's log leaf")
    key_id: str | None = Field(default=None, description="the publisher key that signed it")
    warnings: list[str] = Field(default_factory=list)
    note: str | None = Field(default=None, description="how a name without @REV was resolved")


class EvalRetract(BaseModel):
    reason: str = Field(min_length=1, max_length=10_000)


class EvalSupersede(BaseModel):
    """A new value replacing a result; the old one stays listed as superseded."""

    model_config = ConfigDict(allow_inf_nan=False)

    value: float
    stderr: float | None = Field(default=None, ge=0)
    reason: str = Field(min_length=1, max_length=10_000)


class EvalCorrectionPublic(BaseModel):
    action: Literal["retracted", "superseded"]
    result: EvalResultPublic = Field(description="the corrected result, as listed now")
    replacement: EvalResultPublic | None = Field(
        default=None, description="the result that supersedes it"
    )
    reason: str
    log_index: int | None = None
    created_at: UtcDatetime | None = None
