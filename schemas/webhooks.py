"""Webhooks: subscriptions to registry events, and the deliveries made to them."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, Field

from schemas.common import UtcDatetime

WebhookEvent = Literal["new-descendant", "status-lacking", "advisory"]
WEBHOOK_EVENTS: tuple[str, ...] = get_args(WebhookEvent)
DeliveryState = Literal["pending", "delivered", "failed"]


class WebhookCreate(BaseModel):
    url: str = Field(
        min_length=8, max_length=2000, pattern=r"^https?://", description="http(s) URL to POST to"
    )
    secret: str = Field(
        min_length=8, max_length=200, description="HMAC-SHA256 key; the receiver checks with it"
    )
    events: list[WebhookEvent] = Field(min_length=1, max_length=len(WEBHOOK_EVENTS))
    under: str | None = Field(
        default=None, description="NAME[@REV]: only events about its lineage subtree"
    )


class WebhookPublic(BaseModel):
    """A subscription; its secret is never shown again."""

    id: int
    url: str
    events: list[WebhookEvent]
    under: str | None
    namespace: str | None
    created_at: UtcDatetime


class WebhookList(BaseModel):
    webhooks: list[WebhookPublic]


class WebhookRemoved(BaseModel):
    id: int
    removed: bool


class DeliveryPublic(BaseModel):
    id: int
    webhook_id: int
    delivery_id: str
    event: WebhookEvent
    state: DeliveryState
    attempts: int
    last_status: int | None
    last_error: str | None
    log: list[dict[str, Any]] = Field(description="each attempt: at, status or error")
    payload: dict[str, Any]
    created_at: UtcDatetime
    delivered_at: UtcDatetime | None


class DeliveryList(BaseModel):
    deliveries: list[DeliveryPublic]
