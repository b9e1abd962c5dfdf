"""Vocabulary shared by every wire model: relations, edge sources and statuses, errors."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, Field

Relation = Literal["finetune", "adapter", "merge", "quantized", "pruned", "distilled", "repackaged"]
RELATIONS: tuple[str, ...] = get_args(Relation)

EdgeSource = Literal["declared", "detected"]
EDGE_SOURCES: tuple[str, ...] = get_args(EdgeSource)

# unverified: declared, not (yet) checked against weights; verified: declared and the weights
# agree; disputed: declared but the weights say unrelated; detected: found from weights alone.
EdgeStatus = Literal["unverified", "verified", "disputed", "detected"]
EDGE_STATUSES: tuple[str, ...] = get_args(EdgeStatus)


class ErrorBody(BaseModel):
    code: str = Field(description="stable machine-readable code, e.g. variant_not_found")
    message: str
    detail: dict[str, Any] = Field(default_factory=dict)


class ErrorEnvelope(BaseModel):
    error: ErrorBody
