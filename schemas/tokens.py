"""API tokens: what an admin asks for and what they get back once."""

from __future__ import annotations

from pydantic import BaseModel, Field

from schemas.common import UtcDatetime


class TokenCreate(BaseModel):
    scope: str = Field(description="admin, evaluate, publish or publish:<namespace>")
    namespace: str | None = None
    expires_days: int | None = Field(default=None, ge=1)


class TokenPublic(BaseModel):
    token: str | None = Field(default=None, description="the secret; shown once, never stored")
    token_id: str
    scope: str
    expires_at: UtcDatetime | None = None
