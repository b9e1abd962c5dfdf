"""Identify: which registered variants some weights are identical to, derived from or related to."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from schemas.common import INT64_MAX, Relation

Verdict = Literal["identical", "derived", "related", "unrelated"]
QueryDirection = Literal["query_is_child", "query_is_parent", "unknown"]


class IdentifyQuery(BaseModel):
    """What the client sends: digests and the sketch, never the weights."""

    digest: str | None = Field(default=None, description="variant digest, for exact matches")
    format: str | None = None
    parameters: int | None = Field(default=None, ge=0, le=INT64_MAX)
    sketch: str | None = Field(default=None, description="base64 sketch from the client")
    top: int = Field(default=5, ge=1, le=100)
    include_unrelated: bool = Field(default=False, description="also list unrelated candidates")


class QuerySummary(BaseModel):
    digest: str | None
    format: str | None
    parameters: int | None


class IdentifyMatch(BaseModel):
    name: str
    revision: str
    digest: str | None
    verdict: Verdict
    relation: Relation | None
    direction: QueryDirection
    score: float
    false_positive_rate: float
    evidence: dict[str, Any] = Field(default_factory=dict)
    parents: list[str] | None = Field(
        default=None, description="for a merge: every parent found, NAME@REVISION"
    )


class IdentifyResult(BaseModel):
    query: QuerySummary
    matches: list[IdentifyMatch]
    candidates_compared: int = 0
