"""API tokens: what an admin asks for and what they get back once."""

from __future__ import annotations

from pydantic import BaseModel, Field

from schemas.common import UtcDatetime

#: a token lives at most a century (a later expiry date does not exist as a date)
MAX_EXPIRES_DAYS = 36500


class TokenCreate(BaseModel):
    scope: str = Field(description="admin, evaluate, publish or publish:<namespace>")
    namespace: str | None = None
    expires_days: int | None = Field(default=None, ge=1, le=MAX_EXPIRES_DAYS)


class TokenPublic(BaseModel):
    token: str | None = Field(default=None, description="the secret; shown once, never stored")
    token_id: str
    scope: str
    expires_at: UtcDatetime | None = None


class TokenSelf(BaseModel):
    """What the bearer token of a request may do: the cheap question a client asks before
    long work (hashing a release) whose upload the token would be refused."""

    token_id: str = Field(description="'local' for the CLI's local administrator")
    scope: str
    expires_at: UtcDatetime | None = None
    namespace: str | None = Field(default=None, description="the namespace asked about")
    can_publish: bool | None = Field(
        default=None, description="whether it may register variants in `namespace`"
    )
