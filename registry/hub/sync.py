"""Hub sync: walk a base model's descendants on the Hub and record each as observed in the wild.

A sync of ``ROOT`` keeps its frontier in ``hub_sync_item``; each repo is recorded in one
transaction that also marks its item done and queues its children, so a sync killed at any
moment loses at most the repo in flight and, resumed, records nothing twice. A repo is the
variant ``repo_id@main``: its commit, tags, gated state, licence and card (``hub_repo``), its
files with their LFS SHA-256 (``hub_file``), the card's ``base_model`` as declared edges, its
download counters as ``hub`` snapshots at the sync's start, and its ``model-index`` and
``evalResults`` as evaluation results. A repo whose commit did not change since the last sync
is only re-counted. Observed repos have no variant digest: LFS digests are file digests, not
tensor digests. A repo holding exactly the weight files of a registered variant is recorded as
its copy (a ``repackaged`` edge) without downloading anything; ``--fingerprint``
(:mod:`registry.hub.fingerprint`) downloads and identifies the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import delete, func, insert
from sqlmodel import Session, col, select

from registry.db.engine import transaction
from registry.db.models import HubRepo, HubSync, HubSyncItem, utcnow
from registry.errors import InvalidInput
from registry.hub.fingerprint import FingerprintOutcome
from registry.hub.reader import HUB_RELATIONS, HubReader, RepoFacts
from registry.hub.record import (
    SyncTally,
    aware,
    recognise_copy,
    record_counts,
    record_declared,
    record_evals,
    record_files,
)
from registry.names import VariantRef, validate_name
from registry.services.downloads.report import downloads_changed
from registry.services.safeguards.policy import SafeguardPolicy
from registry.services.safeguards.status import mark_dirty
from registry.services.variants.register import variant_or_placeholder
from registry.services.webhooks.events import variant_added
from schemas import HubSyncResult

DEFAULT_DEPTH = 10
MAX_DEPTH = 64


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return aware(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


def _open_sync(session: Session, hub: HubReader, root: str, depth: int) -> tuple[HubSync, bool]:
    """The unfinished sync of ``root`` on this Hub, or a new one (checking that root exists)."""
    current = session.exec(
        select(HubSync)
        .where(
            HubSync.root == root,
            HubSync.endpoint == hub.endpoint,
            col(HubSync.finished_at).is_(None),
        )
        .order_by(col(HubSync.id).desc())
    ).first()
    if current is not None:
        return current, True
    facts = hub.info(root, counters=True)  # raises HubRepoNotFound before anything is written
    with transaction(session):
        sync = HubSync(root=root, endpoint=hub.endpoint, depth=depth)
        session.add(sync)
        session.flush()
        assert sync.id is not None
        session.add(HubSyncItem(sync_id=sync.id, repo_id=root, depth=0, listing=facts.to_json()))
    return sync, False


def sync_root(
    session: Session,
    hub: HubReader,
    root: str,
    policy: SafeguardPolicy,
    *,
    depth: int = DEFAULT_DEPTH,
    on_repo: Callable[[str, int, int], None] | None = None,
    fingerprint: Callable[[Session, HubRepo], FingerprintOutcome | None] | None = None,
) -> HubSyncResult:
    """Sync ``root``'s descendants to ``depth``; resumes an unfinished sync of the same root.

    ``on_repo(repo_id, done, pending)`` reports progress. ``fingerprint`` is called, once the
    walk is done, for every repo of the sync not yet fingerprinted at its commit (it commits on
    its own, so a resumed sync picks up where a killed one stopped). Raises HubRepoNotFound
    when the root does not exist, HubUnavailable when the Hub keeps failing (then resume).
    """
    validate_name(root)
    if not 0 <= depth <= MAX_DEPTH:
        raise InvalidInput(f"depth {depth} is out of range", hint=f"use 0 to {MAX_DEPTH}")
    sync, resumed = _open_sync(session, hub, root, depth)
    assert sync.id is not None
    tally = SyncTally()
    done = int(
        session.exec(
            select(func.count()).where(HubSyncItem.sync_id == sync.id, col(HubSyncItem.done))
        ).one()
    )
    while True:
        item = session.exec(
            select(HubSyncItem)
            .where(HubSyncItem.sync_id == sync.id, col(HubSyncItem.done).is_(False))
            .order_by(col(HubSyncItem.id))
            .limit(1)
        ).first()
        if item is None:
            break
        with transaction(session):
            _sync_item(session, hub, policy, sync, item, tally)
        done += 1
        if on_repo is not None:
            pending = session.exec(
                select(func.count()).where(
                    HubSyncItem.sync_id == sync.id, col(HubSyncItem.done).is_(False)
                )
            ).one()
            on_repo(item.repo_id, done, int(pending))
    if fingerprint is not None:
        _fingerprint_all(session, sync, fingerprint, tally)
    with transaction(session):
        counted = session.exec(
            select(HubRepo.variant_id)
            .join(HubSyncItem, col(HubSyncItem.repo_id) == HubRepo.repo_id)
            .where(HubSyncItem.sync_id == sync.id)
        ).all()
        downloads_changed(session, [int(v) for v in counted])  # downloads and reach
        sync.finished_at = utcnow()
        session.add(sync)
        session.execute(delete(HubSyncItem).where(col(HubSyncItem.sync_id) == sync.id))
    return HubSyncResult(
        root=root,
        endpoint=hub.endpoint,
        sync_id=sync.id,
        depth=sync.depth,
        resumed=resumed,
        started_at=aware(sync.started_at),
        finished_at=aware(sync.finished_at),
        repos=done,
        recorded_now=tally.repos,
        new=tally.new,
        changed=tally.changed,
        unchanged=tally.unchanged,
        declared_edges=tally.declared_edges,
        exact_copies=tally.exact_copies,
        evaluations=tally.evaluations,
        snapshots=tally.snapshots,
        retries=hub.retries,
        fingerprinted=tally.fingerprinted,
        verified_edges=tally.verified,
        disputed_edges=tally.disputed,
        detected_edges=tally.detected,
        notes=tally.notes[:100],
    )


def _fingerprint_all(
    session: Session,
    sync: HubSync,
    fingerprint: Callable[[Session, HubRepo], FingerprintOutcome | None],
    tally: SyncTally,
) -> None:
    repos = session.exec(
        select(HubRepo)
        .join(HubSyncItem, col(HubSyncItem.repo_id) == HubRepo.repo_id)
        .where(HubSyncItem.sync_id == sync.id)
        .order_by(col(HubSyncItem.id))
    ).all()
    for repo in repos:
        outcome = fingerprint(session, repo)
        if outcome is None:
            continue
        tally.fingerprinted += int(outcome.fingerprinted)
        tally.verified += outcome.verified
        tally.disputed += outcome.disputed
        tally.detected += outcome.detected
        if not outcome.fingerprinted:
            tally.notes.append(f"{outcome.repo_id}: {outcome.note}")


def _sync_item(
    session: Session,
    hub: HubReader,
    policy: SafeguardPolicy,
    sync: HubSync,
    item: HubSyncItem,
    tally: SyncTally,
) -> HubRepo | None:
    """Record one repo and queue its children; the caller commits."""
    facts = (
        RepoFacts.from_json(item.listing) if item.listing else hub.info(item.repo_id, counters=True)
    )
    try:
        validate_name(facts.repo_id)
    except InvalidInput as exc:  # e.g. a legacy id without a namespace: noted, not followed
        tally.notes.append(f"{facts.repo_id}: skipped, {exc.message}")
        item.done = True
        session.add(item)
        return None
    repo = record_repo(session, hub, policy, facts, sync.started_at, tally)
    if item.depth < sync.depth and facts.children != 0:
        assert sync.id is not None
        queued: dict[str, RepoFacts] = {}
        for relation in HUB_RELATIONS:
            for child in hub.children(item.repo_id, relation):
                queued.setdefault(child.repo_id, child)
        known: set[str] = set()
        ids = list(queued)
        for i in range(0, len(ids), 500):
            known.update(
                session.exec(
                    select(HubSyncItem.repo_id).where(
                        HubSyncItem.sync_id == sync.id,
                        col(HubSyncItem.repo_id).in_(ids[i : i + 500]),
                    )
                ).all()
            )
        rows = [
            {
                "sync_id": sync.id,
                "repo_id": rid,
                "depth": item.depth + 1,
                "done": False,
                "listing": f.to_json(),
            }
            for rid, f in queued.items()
            if rid not in known
        ]
        if rows:
            session.execute(insert(HubSyncItem), rows)
    item.done = True
    session.add(item)
    tally.repos += 1
    return repo


def record_repo(
    session: Session,
    hub: HubReader,
    policy: SafeguardPolicy,
    facts: RepoFacts,
    observed_at: datetime,
    tally: SyncTally,
    *,
    recount: bool = True,
) -> HubRepo:
    """Record the repo (see the module docstring); its counters are recorded each time, or,
    without ``recount``, only those that changed since the repo's latest snapshot."""
    name = validate_name(facts.repo_id)
    variant = variant_or_placeholder(session, VariantRef(name, "main"))
    assert variant.id is not None
    repo = session.exec(select(HubRepo).where(HubRepo.repo_id == name)).first()
    now = utcnow()
    first_seen = repo is None
    if repo is None:
        repo = HubRepo(variant_id=variant.id, repo_id=name, first_seen_at=now)
        tally.new += 1
    changed = repo.sha is None or repo.sha != facts.sha
    if changed and repo.sha is not None:
        tally.changed += 1
    elif not changed:
        tally.unchanged += 1
    repo.tags = facts.tags
    repo.gated = facts.gated
    repo.license = facts.license
    repo.last_modified = _parse_time(facts.last_modified)
    repo.last_seen_at = now
    session.add(repo)
    session.flush()
    if changed:
        full = facts if facts.files is not None else hub.info(name, facts.sha)
        full.eval_results = full.eval_results or facts.eval_results  # listings expand them
        repo.sha = full.sha
        repo.card = full.card
        session.add(repo)
        record_files(session, repo, full)
        record_declared(session, variant, full, tally)
        record_evals(session, variant, full, policy, tally)
        recognise_copy(session, repo, variant, tally)
    record_counts(session, variant, facts, observed_at, tally, only_changed=not recount)
    if changed:
        mark_dirty(session, variant.id)  # its status, at the next read
    if first_seen and variant.digest is None:
        variant_added(session, variant)  # webhooks: a new repo below a watched root
    return repo
