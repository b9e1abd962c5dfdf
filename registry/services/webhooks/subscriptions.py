"""Subscriptions: add, list and remove webhooks, and read their delivery log.

An admin token manages every webhook; a ``publish:<ns>`` token manages the webhooks it adds,
which must watch a variant of its namespace (``under``).
"""

from __future__ import annotations

import json

from sqlmodel import Session, col, select

from registry.db.engine import transaction
from registry.db.models import ApiToken, Variant, Webhook, WebhookDelivery
from registry.errors import InvalidInput, PermissionDenied, WebhookNotFound
from registry.names import parse_ref
from registry.services.variants.register import get_variant
from schemas.webhooks import (
    DeliveryList,
    DeliveryPublic,
    WebhookCreate,
    WebhookList,
    WebhookPublic,
    WebhookRemoved,
)

MAX_DELIVERIES = 1000


def _namespace(token: ApiToken) -> str | None:
    """None for an admin; the bound namespace of a publish token."""
    if token.scope == "admin":
        return None
    kind, _, bound = token.scope.partition(":")
    if kind != "publish" or not bound:
        raise PermissionDenied(
            f"token scope {token.scope!r} cannot manage webhooks",
            hint="use a token with scope admin or publish:<namespace>",
        )
    return bound


def webhook_public(session: Session, hook: Webhook) -> WebhookPublic:
    under = session.get(Variant, hook.under_id) if hook.under_id is not None else None
    return WebhookPublic(
        id=hook.id or 0,
        url=hook.url,
        events=list(hook.events),
        under=under.ref if under is not None else None,
        namespace=hook.namespace,
        created_at=hook.created_at,
    )


def add_webhook(session: Session, token: ApiToken, body: WebhookCreate) -> WebhookPublic:
    """Store a subscription; raises :class:`VariantNotFound` for an unknown ``under`` and
    :class:`PermissionDenied` when a namespace token watches outside its namespace."""
    namespace = _namespace(token)
    if namespace is not None and body.under is None:
        raise PermissionDenied(
            f"a {token.scope} token can only watch its own namespace's variants",
            hint=f"pass --under {namespace}/<name>, or use an admin token",
        )
    under_ref = parse_ref(body.under) if body.under else None
    if namespace is not None and under_ref is not None and under_ref.namespace != namespace:
        raise PermissionDenied(
            f"a {token.scope} token cannot watch {under_ref}",
            hint=f"watch a variant of {namespace}/, or use an admin token",
        )
    with transaction(session):
        under = get_variant(session, under_ref) if under_ref is not None else None
        hook = Webhook(
            url=body.url,
            secret=body.secret,
            events=sorted(set(body.events)),
            under_id=under.id if under is not None else None,
            namespace=namespace,
        )
        session.add(hook)
        session.flush()
    return webhook_public(session, hook)


def _visible(session: Session, token: ApiToken) -> list[Webhook]:
    namespace = _namespace(token)
    query = select(Webhook).order_by(col(Webhook.id))
    if namespace is not None:
        query = query.where(Webhook.namespace == namespace)
    return list(session.exec(query).all())


def _get(session: Session, token: ApiToken, webhook_id: int) -> Webhook:
    for hook in _visible(session, token):
        if hook.id == webhook_id:
            return hook
    if token.scope != "admin":  # the same answer whether it exists in another namespace or not
        raise PermissionDenied(
            f"token scope {token.scope!r} manages no webhook {webhook_id}",
            hint="`provreg webhook list` shows the webhooks you can manage",
        )
    raise WebhookNotFound(
        f"no webhook {webhook_id}", hint="`provreg webhook list` shows the ids you can manage"
    )


def list_webhooks(session: Session, token: ApiToken) -> WebhookList:
    return WebhookList(webhooks=[webhook_public(session, h) for h in _visible(session, token)])


def remove_webhook(session: Session, token: ApiToken, webhook_id: int) -> WebhookRemoved:
    """Delete a subscription and its delivery log; raises :class:`WebhookNotFound`."""
    with transaction(session):
        hook = _get(session, token, webhook_id)
        for row in session.exec(
            select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
        ).all():
            session.delete(row)
        session.delete(hook)
    return WebhookRemoved(id=webhook_id, removed=True)


def list_deliveries(
    session: Session, token: ApiToken, webhook_id: int | None = None, *, limit: int = 100
) -> DeliveryList:
    """The newest deliveries (of one webhook, or of every one the token sees)."""
    if not 1 <= limit <= MAX_DELIVERIES:
        raise InvalidInput(f"limit {limit} is out of range", hint=f"use 1..{MAX_DELIVERIES}")
    ids = [_get(session, token, webhook_id).id] if webhook_id is not None else None
    if ids is None:
        ids = [h.id for h in _visible(session, token)]
    rows = session.exec(
        select(WebhookDelivery)
        .where(col(WebhookDelivery.webhook_id).in_(ids))
        .order_by(col(WebhookDelivery.id).desc())
        .limit(limit)
    ).all()
    return DeliveryList(
        deliveries=[
            DeliveryPublic(
                id=r.id or 0,
                webhook_id=r.webhook_id,
                delivery_id=r.delivery_id,
                event=r.event,
                state=r.state,
                attempts=r.attempts,
                last_status=r.last_status,
                last_error=r.last_error,
                log=list(r.log),
                payload=json.loads(r.payload),
                created_at=r.created_at,
                delivered_at=r.delivered_at,
            )
            for r in rows
        ]
    )
