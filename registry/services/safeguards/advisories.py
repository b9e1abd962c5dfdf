"""Advisories: a warning published against a variant reaches every descendant.

Publishing is logged (``advisory.published``) in the same transaction. The affected variants are
found by a recursive walk down declared and detected edges alike (UNION, depth-limited, so a
cycle cannot make it loop), each with the shortest path by which the advisory reaches it.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from registry.db.engine import transaction
from registry.db.lineage_queries import descendants
from registry.db.models import Advisory, Variant
from registry.errors import AdvisoryNotFound
from registry.names import parse_ref
from registry.services.pagination import id_page
from registry.services.safeguards.compute import MAX_DEPTH
from registry.services.safeguards.status import current_downloads
from registry.services.trust import translog
from registry.services.trust.log_records import leaves_of
from registry.services.variants.register import get_variant
from registry.services.webhooks.events import advisory_published
from schemas.evals import AdvisoryAffected, AdvisoryCreate, AdvisoryPublic, AffectedVariant
from schemas.lists import AdvisoryPage

MAX_AFFECTED = 100_000


def list_advisories(
    session: Session, *, limit: int = 50, cursor: str | None = None
) -> AdvisoryPage:
    """Every advisory, newest first."""
    rows, next_cursor = id_page(
        session, select(Advisory), col(Advisory.id), limit=limit, cursor=cursor, newest_first=True
    )
    return AdvisoryPage(items=[advisory_public(session, r) for r in rows], next_cursor=next_cursor)


def advisory_public(session: Session, row: Advisory) -> AdvisoryPublic:
    """The wire form of a stored advisory, with its log leaf."""
    variant = session.get(Variant, row.variant_id)
    assert variant is not None
    index = next(iter(leaves_of(session, "advisory.published", row.id or 0)), None)
    return AdvisoryPublic(
        id=row.id or 0,
        name=variant.name,
        revision=variant.revision,
        severity=row.severity,
        summary=row.summary,
        references=list(row.references),
        log_index=index,
        created_at=row.created_at,
    )


def add_advisory(session: Session, body: AdvisoryCreate) -> AdvisoryPublic:
    """Store and log an advisory; raises :class:`VariantNotFound`."""
    with transaction(session):
        variant = get_variant(session, parse_ref(body.name))
        assert variant.id is not None
        row = Advisory(
            variant_id=variant.id,
            severity=body.severity,
            summary=body.summary,
            references=list(body.references),
        )
        translog.append_row(session, row, "advisory.published")
        advisory_published(session, row)  # webhooks, sent after commit
    return advisory_public(session, row)


def affected(session: Session, advisory_id: int) -> AdvisoryAffected:
    """The advised variant and every descendant, nearest first, each with its downloads and the
    path from the advised variant; raises :class:`AdvisoryNotFound`."""
    row = session.get(Advisory, advisory_id)
    if row is None:
        raise AdvisoryNotFound(
            f"no advisory {advisory_id}", hint="pass the id `provreg advisory add` printed"
        )
    root = row.variant_id
    via: dict[int, int] = {}
    order = [root]
    for w in descendants(session, root, MAX_DEPTH, offset=0, limit=MAX_AFFECTED, active_only=True):
        if w.id != root and w.id not in via:
            via[w.id] = w.via
            order.append(w.id)
    downloads = current_downloads(session, order)
    refs = {i: session.get(Variant, i) for i in order}
    out = []
    for vid in order:
        chain = [vid]
        while chain[-1] != root and chain[-1] in via and len(chain) <= MAX_DEPTH + 1:
            chain.append(via[chain[-1]])
        variant = refs[vid]
        assert variant is not None
        out.append(
            AffectedVariant(
                name=variant.name,
                revision=variant.revision,
                downloads=downloads.get(vid, 0),
                via=[
                    (refs.get(i) or session.get(Variant, i)).ref  # type: ignore[union-attr]
                    for i in reversed(chain)
                ],
            )
        )
    return AdvisoryAffected(advisory=advisory_public(session, row), affected=out)
