"""Download counts: snapshots per variant, window (``30d`` or ``all``), time and source.

A variant's downloads are its latest ``30d`` count (else its latest ``all`` count). Recording
one updates the variant's safeguard row and the reach of its ancestors in the same transaction.
Snapshots are not logged: they are observations that change daily, not claims about weights.
Sources: ``manual`` (recorded by hand), ``hub`` (a Hub sync), ``ingest`` (a publisher's log).
A report gives the series, the reach (own and the whole subtree's, each descendant once) and
the growth of the counter over a window.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, select

from registry.db.engine import transaction
from registry.db.lineage_queries import subtree_ids
from registry.db.models import DownloadSnapshot, HubRepo, SafeguardStatus, utcnow
from registry.errors import Conflict, InvalidInput
from registry.names import VariantRef
from registry.services.safeguards.status import current_downloads, mark_dirty, refresh_reach
from registry.services.variants.register import get_variant
from schemas.evals import DownloadRecord, DownloadSnapshotPublic
from schemas.hub import DownloadGrowth, DownloadPoint, DownloadReach, DownloadsPublic


def record_downloads(
    session: Session, ref: VariantRef, body: DownloadRecord
) -> DownloadSnapshotPublic:
    """Store a snapshot; raises VariantNotFound, or Conflict when that exact snapshot (variant,
    window, time, source) holds another count."""
    observed = body.observed_at or utcnow()
    if observed.tzinfo is None:
        observed = observed.replace(tzinfo=UTC)
    with transaction(session):
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
    return DownloadSnapshotPublic(
        name=variant.name,
        revision=variant.revision,
        window=body.window,
        count=body.count,
        observed_at=observed,
        source=body.source,
        downloads=now,
    )


def downloads_changed(session: Session, variant_ids: list[int]) -> None:
    """After new snapshots: the safeguard rows' downloads and their ancestors' reach, in the
    caller's transaction; variants without a row yet are queued (computed at the next read)."""
    with_rows: list[int] = []
    for i in range(0, len(variant_ids), 5000):
        rows = session.exec(
            select(SafeguardStatus).where(
                col(SafeguardStatus.variant_id).in_(variant_ids[i : i + 5000])
            )
        ).all()
        now = current_downloads(session, [r.variant_id for r in rows])
        for row in rows:
            row.downloads = now.get(row.variant_id, 0)
            session.add(row)
            with_rows.append(row.variant_id)
    have = set(with_rows)
    for vid in variant_ids:
        if vid not in have:
            mark_dirty(session, vid)
    session.flush()
    if with_rows:
        refresh_reach(session, with_rows)


# --- series, reach and growth -------------------------------------------------------------------

_WINDOW = re.compile(r"^(\d{1,4})([hdw])$")


def parse_window(window: str) -> timedelta:
    """``30d``, ``12w``, ``48h`` as a timedelta; raises InvalidInput."""
    m = _WINDOW.match(window.strip())
    if not m or int(m.group(1)) == 0:
        raise InvalidInput(f"window {window!r} is not a duration", hint="use e.g. 30d, 4w or 48h")
    unit = {"h": "hours", "d": "days", "w": "weeks"}[m.group(2)]
    return timedelta(**{unit: int(m.group(1))})


def _naive(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


def latest_counts(session: Session, ids: list[int], window: str) -> dict[int, int]:
    """Each variant's latest count over ``window`` (``30d`` or ``all``), where it has one."""
    out: dict[int, tuple[datetime, int]] = {}
    for i in range(0, len(ids), 5000):
        for s in session.exec(
            select(DownloadSnapshot).where(
                col(DownloadSnapshot.variant_id).in_(ids[i : i + 5000]),
                DownloadSnapshot.window == window,
            )
        ):
            when = _naive(s.observed_at)
            if s.variant_id not in out or when >= out[s.variant_id][0]:
                out[s.variant_id] = (when, int(s.count))
    return {k: v[1] for k, v in out.items()}


def _point(s: DownloadSnapshot) -> DownloadPoint:
    when = s.observed_at if s.observed_at.tzinfo else s.observed_at.replace(tzinfo=UTC)
    return DownloadPoint(window=s.window, count=int(s.count), observed_at=when, source=s.source)


def _growth(series: list[DownloadPoint], window: str) -> DownloadGrowth:
    span = parse_window(window)
    counter = "all" if any(p.window == "all" for p in series) else None
    if counter is None and series:
        counter = "30d"
    points = [p for p in series if p.window == counter]
    if not points:
        return DownloadGrowth(
            window=window, counter=None, start=None, end=None, change=None, ratio=None
        )
    end = points[-1]
    before = [p for p in points if p.observed_at <= end.observed_at - span]
    start = before[-1] if before else None
    change = end.count - start.count if start else None
    ratio = end.count / start.count if start and start.count else None
    return DownloadGrowth(
        window=window, counter=counter, start=start, end=end, change=change, ratio=ratio
    )


def downloads_report(session: Session, ref: VariantRef, *, window: str = "30d") -> DownloadsPublic:
    """A variant's snapshot series (oldest first), its reach (own and subtree, each
    descendant once) and the growth of its counter over ``window``. Raises VariantNotFound."""
    variant = get_variant(session, ref)
    assert variant.id is not None
    rows = session.exec(
        select(DownloadSnapshot).where(DownloadSnapshot.variant_id == variant.id)
    ).all()
    series = sorted((_point(s) for s in rows), key=lambda p: (p.observed_at, p.window, p.source))
    subtree = subtree_ids(session, variant.id, active_only=True)
    current = current_downloads(session, subtree)
    all_time = latest_counts(session, subtree, "all")
    reach = DownloadReach(
        own=current.get(variant.id, 0),
        own_all_time=all_time.get(variant.id),
        subtree=sum(current.values()),
        subtree_all_time=sum(all_time.values()),
        descendants=len(subtree) - 1,
    )
    hub = session.exec(select(HubRepo).where(HubRepo.variant_id == variant.id)).first()
    return DownloadsPublic(
        name=variant.name,
        revision=variant.revision,
        series=series,
        reach=reach,
        growth=_growth(series, window),
        hub=(
            {
                "repo_id": hub.repo_id,
                "sha": hub.sha,
                "gated": hub.gated,
                "license": hub.license,
                "tags": hub.tags,
                "last_seen_at": hub.last_seen_at.isoformat(),
            }
            if hub
            else None
        ),
    )
