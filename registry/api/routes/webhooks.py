"""Webhooks: subscribe a URL to events below a variant, list, remove, and read deliveries.

Every route needs a token: admin manages every webhook, ``publish:<ns>`` those it added (the
reads check that in the service: a namespace token lists its own).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status

from registry.api.deps import ERRORS, ScopeRequirement, SessionDep, TokenDep
from registry.db.models import ApiToken
from registry.services.webhooks import (
    add_webhook,
    list_deliveries,
    list_webhooks,
    remove_webhook,
)
from schemas.common import INT64_MAX
from schemas.webhooks import DeliveryList, WebhookCreate, WebhookList, WebhookPublic, WebhookRemoved

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

WebhookToken = Annotated[ApiToken, Depends(ScopeRequirement("admin", "publish:{namespace}"))]
WebhookId = Annotated[int, Path(ge=0, le=INT64_MAX)]


@router.post(
    "", response_model=WebhookPublic, status_code=status.HTTP_201_CREATED, responses=ERRORS
)
def add(body: WebhookCreate, session: SessionDep, token: WebhookToken) -> WebhookPublic:
    """Subscribe a URL to new-descendant, status-lacking and advisory events (below ``under``)."""
    return add_webhook(session, token, body)


@router.get("", response_model=WebhookList, responses=ERRORS)
def list_(session: SessionDep, token: TokenDep) -> WebhookList:
    """The webhooks the token manages (secrets are never shown)."""
    return list_webhooks(session, token)


@router.get("/deliveries", response_model=DeliveryList, responses=ERRORS)
def deliveries(
    session: SessionDep,
    token: TokenDep,
    webhook_id: Annotated[int | None, Query(ge=0, le=INT64_MAX)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeliveryList:
    """The newest deliveries with every attempt's outcome."""
    return list_deliveries(session, token, webhook_id, limit=limit)


@router.delete("/{webhook_id}", response_model=WebhookRemoved, responses=ERRORS)
def remove(webhook_id: WebhookId, session: SessionDep, token: WebhookToken) -> WebhookRemoved:
    """Remove a webhook and its delivery log."""
    return remove_webhook(session, token, webhook_id)
