"""Webhooks: subscriptions to registry events and the log of their deliveries (an outbox: a
delivery row is written in the transaction of the event it reports, and sent after commit)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, Text
from sqlmodel import Field, SQLModel

from registry.db.models.core import timestamp_field


class Webhook(SQLModel, table=True):
    """A URL told of ``events`` about variants in ``under_id``'s subtree (all when NULL)."""

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=2000)
    secret: str = Field(max_length=200, description="the HMAC-SHA256 key signing each POST")
    events: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    under_id: int | None = Field(
        default=None, foreign_key="variant.id", index=True, ondelete="CASCADE"
    )
    namespace: str | None = Field(
        default=None, max_length=96, description="the namespace of the token that added it"
    )
    created_at: datetime = timestamp_field()


class WebhookDelivery(SQLModel, table=True):
    """One event sent (or to be sent) to one webhook, with every attempt's outcome."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (Index("ix_webhook_delivery_state", "state", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    webhook_id: int = Field(foreign_key="webhook.id", index=True, ondelete="CASCADE")
    delivery_id: str = Field(max_length=36, unique=True)
    event: str = Field(max_length=32)
    payload: str = Field(sa_type=Text, description="the JSON body, exactly as signed and sent")
    state: str = Field(default="pending", max_length=16, description="pending, delivered, failed")
    attempts: int = 0
    last_status: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    log: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False), description="per attempt"
    )
    created_at: datetime = timestamp_field()
    delivered_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
