"""Download counts: snapshots per variant, window (``30d`` or ``all``), time and source.

A variant's downloads are its latest ``30d`` count (else its latest ``all`` count). Recording
one updates the variant's safeguard row and the reach of its ancestors in the same transaction.
Snapshots are not logged: they are observations that change daily, not claims about weights.
"""

from __future__ import annotations

from datetime import UTC

from sqlmodel import Session, select

from registry.db.models import DownloadSnapshot, SafeguardStatus, utcnow
from registry.errors import Conflict
from registry.services.names import VariantRef
from registry.services.safeguards import current_downloads, mark_dirty, refresh_reach
from registry.services.variants import get_variant
from schemas.evals import DownloadRecord, DownloadSnapshotPublic


def record_downloads(
    session: Session, ref: VariantRef, body: DownloadRecord
) -> DownloadSnapshotPublic:
    """Store a snapshot; raises VariantNotFound, or Conflict when that exact snapshot (variant,
    window, time, source) holds another count."""
    observed = body.observed_at or utcnow()
    if observed.tzinfo is None:
        observed = observed.replace(tzinfo=UTC)
    try:
        variant = get_variant(session, ref)
        assert variant.id is not None
        existing = session.exec(
            select(DownloadSnapshot).where(
                DownloadSnapshot.variant_id == variant.id,
                DownloadSnapshot.window == body.window,
                DownloadSnapshot.observed_at == observed,
                DownloadSnapshot.source == body.source,
            )
        ).first()
        if existing is not None and existing.count != body.count:
            raise Conflict(
                f"{ref} already has a {body.window} count of {existing.count} at that time",
                hint="record the new count with another --at",
            )
        if existing is None:
            session.add(
                DownloadSnapshot(
                    variant_id=variant.id,
                    window=body.window,
                    count=body.count,
                    observed_at=observed,
                    source=body.source,
                )
            )
            session.flush()
        now = current_downloads(session, [variant.id]).get(variant.id, 0)
        row = session.get(SafeguardStatus, variant.id)
        if row is None:
            mark_dirty(session, variant.id)
        else:
            row.downloads = now
            session.add(row)
            session.flush()
            refresh_reach(session, [variant.id])
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return DownloadSnapshotPublic(
        name=variant.name,
        revision=variant.revision,
        window=body.window,
        count=body.count,
        observed_at=observed,
        source=body.source,
        downloads=now,
    )
