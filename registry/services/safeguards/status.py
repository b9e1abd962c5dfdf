"""Safeguard statuses: computed from results, parents and markers; kept in ``safeguard_status``.

The status of a variant depends on its own results, its parents' statuses and results (through
declared and detected edges alike) and its name. It is materialised so that the
lacking-safeguards query is one index scan over ``(downloads | reach, variant_id)`` however many
variants there are; every write that can change a status refreshes it in its own transaction
(results: the variant and its descendants; downloads: the reach of the variant and its
ancestors). Writes that know no policy (registrations, lineage claims) queue the variant in
``safeguard_dirty``; every read processes the queue first. A row computed under another policy
(another digest) is recomputed the same way.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime

from sqlalchemy import delete, func, or_
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, select

from registry.db.engine import insert_once
from registry.db.lineage_queries import RETRACTED, lineage_ids, walk
from registry.db.models import (
    DownloadSnapshot,
    LineageEdge,
    SafeguardDirty,
    SafeguardStatus,
    Variant,
    utcnow,
)
from registry.services.safeguards.compute import compute_status, parents_of
from registry.services.safeguards.policy import SafeguardPolicy
from registry.services.webhooks.events import status_became_lacking

MAX_CASCADE = 200_000

# --- downloads and reach -----------------------------------------------------------------------


def current_downloads(session: Session, ids: list[int]) -> dict[int, int]:
    """Each variant's downloads: its latest ``30d`` count, else its latest ``all`` count."""
    out: dict[int, int] = {}
    if not ids:
        return out
    seen: dict[tuple[int, str], datetime] = {}
    for chunk in range(0, len(ids), 5000):
        rows = session.exec(
            select(DownloadSnapshot).where(
                col(DownloadSnapshot.variant_id).in_(ids[chunk : chunk + 5000])
            )
        ).all()
        for s in rows:
            key = (s.variant_id, s.window)
            when = s.observed_at.replace(tzinfo=None)
            if key not in seen or when >= seen[key]:
                seen[key] = when
                if s.window == "30d" or (s.variant_id, "30d") not in seen:
                    out[s.variant_id] = int(s.count)
    return out


def reach_of(session: Session, root_id: int) -> int:
    """The downloads of ``root_id``'s whole subtree, each descendant once."""
    down = walk(root_id, up=False, name="down", active_only=True)
    status = SafeguardStatus.__table__  # type: ignore[attr-defined]
    total = select(func.coalesce(func.sum(status.c.downloads), 0)).select_from(
        down.join(status, status.c.variant_id == down.c.id)
    )
    return int(session.execute(total).scalar_one())


def refresh_reach(session: Session, variant_ids: list[int]) -> None:
    """Recompute the reach of these variants and all their ancestors (each descendant once,
    through edges that count: not retracted ones)."""
    todo: set[int] = set()
    for vid in variant_ids:
        todo.update(lineage_ids(session, vid, active_only=True))
    for vid in todo:
        row = session.get(SafeguardStatus, vid)
        if row is not None:
            row.reach = reach_of(session, vid)
            session.add(row)
    session.flush()


# --- refresh -----------------------------------------------------------------------------------


def _children(session: Session, variant_id: int) -> list[int]:
    rows = session.exec(
        select(LineageEdge.child_id).where(
            LineageEdge.parent_id == variant_id, LineageEdge.status != RETRACTED
        )
    )
    return [int(c) for c in rows.all()]


def _status_of(
    session: Session, policy: SafeguardPolicy, variant_id: int, computed: dict[int, str]
) -> str:
    if variant_id in computed:
        return computed[variant_id]
    row = session.get(SafeguardStatus, variant_id)
    if row is not None and row.policy_digest == policy.digest:
        return row.status
    return "unverified"


def refresh(
    session: Session,
    policy: SafeguardPolicy,
    variant_ids: list[int],
    *,
    reach: bool = True,
    readings_changed: bool = True,
) -> None:
    """Recompute the status of these variants and, as far as a status changes, of their
    descendants; then (``reach``, or for variants that had no row yet) the reach of these
    variants and their ancestors. Inside the caller's transaction.

    A worklist, breadth first from the given variants: a variant's children are revisited only
    when its status changed (or, for the given variants, when ``readings_changed``: their
    safeguard results changed), so a result that changes nothing costs one variant, and a DAG
    child is recomputed again when another of its parents changes later.
    """
    roots = list(dict.fromkeys(variant_ids))
    # children read their parents' safeguard results (degraded): when those changed, visit them
    forced, queued = set(roots) if readings_changed else set(), set(roots)
    queue = deque(roots)
    computed: dict[int, str] = {}
    created: list[int] = []
    visits = 0
    while queue and visits < MAX_CASCADE:
        vid = queue.popleft()
        queued.discard(vid)
        visits += 1
        variant = session.get(Variant, vid)
        if variant is None:
            continue
        parents = {
            p: (_status_of(session, policy, p, computed), _ref(session, p))
            for p, _ in parents_of(session, vid)
        }
        status, reasons = compute_status(session, policy, variant, parents)
        computed[vid] = status
        row = session.get(SafeguardStatus, vid)
        changed = (
            vid in forced
            or row is None
            or row.status != status
            or row.policy_digest != policy.digest
        )
        forced.discard(vid)
        if status == "lacking" and (row is None or row.status != "lacking"):
            status_became_lacking(session, vid, row.status if row is not None else None, reasons)
        if row is None:
            row = SafeguardStatus(variant_id=vid, status=status, policy_digest=policy.digest)
            row.downloads = current_downloads(session, [vid]).get(vid, 0)
            created.append(vid)
        row.status, row.reasons, row.policy_digest = status, reasons, policy.digest
        row.updated_at = utcnow()
        session.add(row)
        if changed:
            for child in _children(session, vid):
                if child not in queued:
                    queued.add(child)
                    queue.append(child)
    session.flush()
    if reach or created:
        refresh_reach(session, roots if reach else created)


def _ref(session: Session, variant_id: int) -> str:
    v = session.get(Variant, variant_id)
    return v.ref if v is not None else f"#{variant_id}"


def mark_dirty(session: Session, variant_id: int) -> None:
    """Queue a variant for recomputation at the next read (no policy needed to write)."""
    if session.get(SafeguardDirty, variant_id) is None:
        # two registrations may queue one parent's child at once: either entry stands
        insert_once(
            session,
            SafeguardDirty(variant_id=variant_id),
            lambda: session.get(SafeguardDirty, variant_id),
        )


def catch_up(session: Session, policy: SafeguardPolicy) -> None:
    """Process the queue and rows computed under another policy; commits if it did anything."""
    dirty = [int(v) for v in session.exec(select(SafeguardDirty.variant_id)).all()]
    stale = [
        int(v)
        for v in session.exec(
            select(SafeguardStatus.variant_id).where(
                or_(
                    col(SafeguardStatus.policy_digest) < policy.digest,
                    col(SafeguardStatus.policy_digest) > policy.digest,
                )
            )
        ).all()
    ]
    if not dirty and not stale:
        return
    try:
        refresh(session, policy, dirty + stale)
        if dirty:
            session.execute(delete(SafeguardDirty).where(col(SafeguardDirty.variant_id).in_(dirty)))
        session.commit()
    except (IntegrityError, OperationalError):
        # a concurrent reader processed the same queue first (or, on PostgreSQL, deadlocked
        # with this one and won): its rows stand, and what is left waits for the next read
        session.rollback()
    except BaseException:
        session.rollback()
        raise


def recompute_statuses(
    session: Session, policy: SafeguardPolicy
) -> dict[int, tuple[str, list[str]]]:
    """Every registered variant's ``(status, reasons)`` computed afresh from the records, parents
    first, trusting no materialised row (the audit compares them with ``safeguard_status``)."""
    memo: dict[int, tuple[str, list[str]]] = {}

    def status_of(vid: int, path: set[int]) -> str:
        if vid in memo:
            return memo[vid][0]
        variant = session.get(Variant, vid)
        if variant is None or variant.digest is None or vid in path:
            return "unverified"  # a placeholder has no row; a (tampered) cycle reads nothing
        path.add(vid)
        parents = {p: (status_of(p, path), _ref(session, p)) for p, _ in parents_of(session, vid)}
        path.discard(vid)
        memo[vid] = compute_status(session, policy, variant, parents)
        return memo[vid][0]

    ids = session.exec(select(Variant.id).where(col(Variant.digest).is_not(None))).all()
    for vid in ids:
        status_of(int(vid or 0), set())
    return memo
