"""Webhook events, queued in the transaction of the write that causes them.

Each matching subscription gets a ``webhook_delivery`` row (the outbox) beside the write, so a
rolled-back write sends nothing and a committed one is sent after commit by the
:class:`~registry.services.webhooks.delivery.Dispatcher`, which the write never waits on for
its own success. ``session.info[QUEUED]`` tells the caller that there is something to send.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlmodel import Session, col, select

from registry.db.lineage_queries import is_ancestor_or_self
from registry.db.models import Advisory, LineageEdge, Variant, Webhook, WebhookDelivery, utcnow

QUEUED = "provreg.webhooks.queued"


def _variant(v: Variant) -> dict[str, Any]:
    return {"name": v.name, "revision": v.revision, "digest": v.digest}


def _subscribers(session: Session, event: str) -> list[Webhook]:
    hooks = session.exec(select(Webhook).order_by(col(Webhook.id))).all()
    return [h for h in hooks if event in h.events]


def _queue(session: Session, hook: Webhook, event: str, body: dict[str, Any]) -> None:
    assert hook.id is not None
    delivery_id = str(uuid.uuid4())
    under = session.get(Variant, hook.under_id) if hook.under_id is not None else None
    payload = {
        "id": delivery_id,
        "event": event,
        "webhook_id": hook.id,
        "under": under.ref if under is not None else None,
        "created_at": utcnow().isoformat().replace("+00:00", "Z"),
        **body,
    }
    session.add(
        WebhookDelivery(
            webhook_id=hook.id,
            delivery_id=delivery_id,
            event=event,
            payload=json.dumps(payload, sort_keys=True),
        )
    )
    session.info[QUEUED] = True


def variant_added(session: Session, variant: Variant) -> None:
    """``new-descendant``: ``variant`` was registered (or first seen on the Hub) below a
    subscription's root (any variant, for a subscription without one)."""
    assert variant.id is not None
    hooks = [
        h
        for h in _subscribers(session, "new-descendant")
        if h.under_id is None
        or (h.under_id != variant.id and is_ancestor_or_self(session, h.under_id, variant.id))
    ]
    if not hooks:
        return
    parents = [
        {
            "parent": p.ref,
            "relation": e.relation,
            "source": e.source,
            "status": e.status,
        }
        for e, p in session.exec(
            select(LineageEdge, Variant)
            .join(Variant, col(Variant.id) == LineageEdge.parent_id)
            .where(LineageEdge.child_id == variant.id)
            .order_by(Variant.name, Variant.revision)
        ).all()
    ]
    for hook in hooks:
        _queue(session, hook, "new-descendant", {"variant": _variant(variant), "lineage": parents})


def status_became_lacking(
    session: Session, variant_id: int, previous: str | None, reasons: list[str]
) -> None:
    """``status-lacking``: the variant's safeguard status turned ``lacking``."""
    hooks = [
        h
        for h in _subscribers(session, "status-lacking")
        if h.under_id is None or is_ancestor_or_self(session, h.under_id, variant_id)
    ]
    variant = session.get(Variant, variant_id)
    if not hooks or variant is None:
        return
    body = {
        "variant": _variant(variant),
        "status": "lacking",
        "previous": previous,
        "reasons": list(reasons),
    }
    for hook in hooks:
        _queue(session, hook, "status-lacking", body)


def advisory_published(session: Session, advisory: Advisory) -> None:
    """``advisory``: an advisory reaches a subscription's subtree (it is published against the
    root, an ancestor of it, or a variant below it)."""
    advised = advisory.variant_id
    hooks = [
        h
        for h in _subscribers(session, "advisory")
        if h.under_id is None
        or is_ancestor_or_self(session, advised, h.under_id)
        or is_ancestor_or_self(session, h.under_id, advised)
    ]
    variant = session.get(Variant, advised)
    if not hooks or variant is None:
        return
    body = {
        "variant": _variant(variant),
        "advisory": {
            "id": advisory.id,
            "severity": advisory.severity,
            "summary": advisory.summary,
            "references": list(advisory.references),
        },
    }
    for hook in hooks:
        _queue(session, hook, "advisory", body)
