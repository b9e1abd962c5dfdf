"""Pages of the registry's lists (tokens, keys, advisories, evaluation results) and the one-page
view of a variant. Every page carries ``next_cursor``: pass it back as ``cursor`` for the next
one; null on the last page."""

from __future__ import annotations

from pydantic import BaseModel, Field

from schemas.browse import AdvisoryReach
from schemas.common import UtcDatetime
from schemas.evals import AdvisoryPublic, EvalResultPublic, SafeguardStatusPublic
from schemas.hub import DownloadReach
from schemas.trust import KeyPublic
from schemas.variants import VariantPublic


class TokenInfo(BaseModel):
    """A token without its secret (the secret is shown once, when it is created)."""

    token_id: str
    scope: str
    created_at: UtcDatetime | None = None
    expires_at: UtcDatetime | None = None
    revoked_at: UtcDatetime | None = None
    active: bool = Field(description="neither revoked nor expired")


class TokenPage(BaseModel):
    items: list[TokenInfo]
    next_cursor: str | None = None


class KeyPage(BaseModel):
    items: list[KeyPublic]
    next_cursor: str | None = None


class AdvisoryPage(BaseModel):
    items: list[AdvisoryPublic]
    next_cursor: str | None = None


class EvalResultPage(BaseModel):
    items: list[EvalResultPublic]
    next_cursor: str | None = None


class VariantOverview(VariantPublic):
    """``show``'s one page: the variant (as ``GET /v1/variants/...``) with its safeguard
    status, latest evaluation results, the advisories reaching it and its downloads."""

    safeguards: SafeguardStatusPublic | None = Field(
        default=None, description="null for a variant known only by name"
    )
    evaluations: list[EvalResultPublic] = Field(
        default_factory=list, description="the latest result per benchmark and metric"
    )
    advisories: list[AdvisoryReach] = Field(
        default_factory=list, description="against the variant or an ancestor, newest first"
    )
    downloads: DownloadReach | None = None
