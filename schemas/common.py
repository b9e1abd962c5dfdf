"""Vocabulary shared by every wire model: relations, edge sources and statuses, errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, Field

#: the largest integer a database column holds (BIGINT): every integer a request carries is
#: bounded by it, so an oversized number is a 422, never an overflow in the database driver
INT64_MAX = 2**63 - 1
#: an integer a request may carry: 0 up to :data:`INT64_MAX`
Count = Annotated[int, Field(ge=0, le=INT64_MAX)]

Relation = Literal["finetune", "adapter", "merge", "quantized", "pruned", "distilled", "repackaged"]
RELATIONS: tuple[str, ...] = get_args(Relation)

EdgeSource = Literal["declared", "detected"]
EDGE_SOURCES: tuple[str, ...] = get_args(EdgeSource)

# unverified: declared, not (yet) checked against weights; verified: declared and the weights
# agree; disputed: declared but the weights say unrelated; detected: found from weights alone;
# retracted: declared, then withdrawn (kept and shown, read by nothing else).
EdgeStatus = Literal["unverified", "verified", "disputed", "detected", "retracted"]
EDGE_STATUSES: tuple[str, ...] = get_args(EdgeStatus)


class ErrorBody(BaseModel):
    code: str = Field(description="stable machine-readable code, e.g. variant_not_found")
    message: str
    detail: dict[str, Any] = Field(default_factory=dict)


class ErrorEnvelope(BaseModel):
    error: ErrorBody


def _as_utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


#: a time in a response: naive values (SQLite reads them back so) are UTC and say so (``Z``)
UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]
