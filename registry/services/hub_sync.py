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
(:mod:`registry.services.hub_fingerprint`) downloads and identifies the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert
from sqlmodel import Session, col, select

from registry.db.lineage_queries import is_ancestor_or_self
from registry.db.models import (
    DownloadSnapshot,
    EvalResult,
    HubFile,
    HubRepo,
    HubSync,
    HubSyncItem,
    LineageEdge,
    Variant,
    VariantFile,
    utcnow,
)
from registry.errors import EvalFileInvalid, InvalidInput
from registry.services import translog
from registry.services.downloads import downloads_changed
from registry.services.eval_formats import read_hf_eval_results, read_model_index
from registry.services.evals import _resolve
from registry.services.hub_api import HUB_RELATIONS, HubReader, RepoFacts
from registry.services.hub_fingerprint import FingerprintOutcome
from registry.services.names import VariantRef, validate_name
from registry.services.safeguard_policy import SafeguardPolicy
from registry.services.safeguards import mark_dirty
from registry.services.variants import _variant_or_placeholder
from schemas import RELATIONS, EvalResultCreate, HubSyncResult

WEIGHT_SUFFIXES = (".safetensors", ".gguf", ".onnx", ".bin", ".pt", ".pth", ".ckpt", ".pkl")
DEFAULT_DEPTH = 10
MAX_DEPTH = 64


@dataclass
class _Tally:
    repos: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    declared_edges: int = 0
    exact_copies: int = 0
    evaluations: int = 0
    snapshots: int = 0
    fingerprinted: int = 0
    verified: int = 0
    disputed: int = 0
    detected: int = 0
    notes: list[str] = field(default_factory=list)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return _aware(datetime.fromisoformat(value.replace("Z", "+00:00")))
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
    facts = hub.info(root)  # raises HubRepoNotFound before anything is written
    try:
        sync = HubSync(root=root, endpoint=hub.endpoint, depth=depth)
        session.add(sync)
        session.flush()
        assert sync.id is not None
        session.add(HubSyncItem(sync_id=sync.id, repo_id=root, depth=0, listing=facts.to_json()))
        session.commit()
    except BaseException:
        session.rollback()
        raise
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
    tally = _Tally()
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
        try:
            _sync_item(session, hub, policy, sync, item, tally)
            session.commit()
        except BaseException:
            session.rollback()
            raise
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
    try:
        counted = session.exec(
            select(HubRepo.variant_id)
            .join(HubSyncItem, col(HubSyncItem.repo_id) == HubRepo.repo_id)
            .where(HubSyncItem.sync_id == sync.id)
        ).all()
        downloads_changed(session, [int(v) for v in counted])  # downloads and reach
        sync.finished_at = utcnow()
        session.add(sync)
        session.execute(delete(HubSyncItem).where(col(HubSyncItem.sync_id) == sync.id))
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return HubSyncResult(
        root=root,
        endpoint=hub.endpoint,
        sync_id=sync.id,
        depth=sync.depth,
        resumed=resumed,
        started_at=_aware(sync.started_at),
        finished_at=_aware(sync.finished_at),
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
    tally: _Tally,
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
    tally: _Tally,
) -> HubRepo:
    """Record one repo and queue its children; the caller commits."""
    facts = RepoFacts.from_json(item.listing) if item.listing else hub.info(item.repo_id)
    repo = _record_repo(session, hub, policy, facts, sync.started_at, tally)
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


def _record_repo(
    session: Session,
    hub: HubReader,
    policy: SafeguardPolicy,
    facts: RepoFacts,
    observed_at: datetime,
    tally: _Tally,
) -> HubRepo:
    name = validate_name(facts.repo_id)
    variant = _variant_or_placeholder(session, VariantRef(name, "main"))
    assert variant.id is not None
    repo = session.exec(select(HubRepo).where(HubRepo.repo_id == name)).first()
    now = utcnow()
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
        _record_files(session, repo, full)
        _record_declared(session, variant, full, tally)
        _record_evals(session, variant, full, policy, tally)
        _recognise_copy(session, repo, variant, tally)
    _record_counts(session, variant, facts, observed_at, tally)
    if changed:
        mark_dirty(session, variant.id)  # its status, at the next read
    return repo


def _record_files(session: Session, repo: HubRepo, facts: RepoFacts) -> None:
    assert repo.id is not None
    session.execute(delete(HubFile).where(col(HubFile.hub_repo_id) == repo.id))
    if facts.files:
        session.execute(
            insert(HubFile),
            [
                {
                    "hub_repo_id": repo.id,
                    "path": f.path[:1024],
                    "size": f.size,
                    "sha256": f.sha256,
                    "blob_id": f.blob_id,
                }
                for f in facts.files
            ],
        )


def declared_parents(facts: RepoFacts) -> list[tuple[str, str]]:
    """``(parent, relation)`` from the card's ``base_model``/``base_model_relation``, the
    relation falling back to the Hub's ``base_model:RELATION:ID`` tags, then to finetune."""
    bases = facts.card.get("base_model")
    names = [bases] if isinstance(bases, str) else [str(b) for b in bases or [] if b]
    declared = facts.card.get("base_model_relation")
    out = []
    for base in names:
        relation = declared if declared in RELATIONS else None
        if relation is None:
            relation = next(
                (r for r in HUB_RELATIONS if f"base_model:{r}:{base}" in facts.tags), None
            )
        if relation is None:
            relation = "merge" if len(names) > 1 else "finetune"
        out.append((base, relation))
    return out


def _record_declared(session: Session, variant: Variant, facts: RepoFacts, tally: _Tally) -> None:
    assert variant.id is not None
    for base, relation in declared_parents(facts):
        try:
            parent_ref = VariantRef(validate_name(base), "main")
        except InvalidInput:
            tally.notes.append(f"{facts.repo_id}: base_model {base!r} is not a repo id")
            continue
        parent = _variant_or_placeholder(session, parent_ref)
        assert parent.id is not None
        edge = session.exec(
            select(LineageEdge).where(
                LineageEdge.child_id == variant.id, LineageEdge.parent_id == parent.id
            )
        ).first()
        if edge is not None:
            if edge.source == "detected":  # declared and detected: verified
                edge.source, edge.status, edge.updated_at = "declared", "verified", utcnow()
                session.add(edge)
            continue
        if is_ancestor_or_self(session, variant.id, parent.id):
            tally.notes.append(f"{facts.repo_id}: base_model {base} would close a cycle")
            continue
        session.add(
            LineageEdge(
                child_id=variant.id,
                parent_id=parent.id,
                relation=relation,
                source="declared",
                status="unverified",
                evidence={"declared_by": "model card", "hub_sha": facts.sha},
            )
        )
        session.flush()
        tally.declared_edges += 1


def _card_results(facts: RepoFacts, tally: _Tally) -> list[EvalResultCreate]:
    results: list[EvalResultCreate] = []
    if facts.card.get("model-index"):
        try:
            results += read_model_index({"model-index": facts.card["model-index"]})
        except EvalFileInvalid as exc:
            tally.notes.append(f"{facts.repo_id}: model-index ignored: {exc.message}")
    if facts.eval_results:
        try:
            results += read_hf_eval_results(facts.eval_results)
        except EvalFileInvalid as exc:
            tally.notes.append(f"{facts.repo_id}: evalResults ignored: {exc.message}")
    return results


def _record_evals(
    session: Session,
    variant: Variant,
    facts: RepoFacts,
    policy: SafeguardPolicy,
    tally: _Tally,
) -> None:
    """Store and log the card's results that are not stored already (a new commit repeats
    the card's old results)."""
    results = _card_results(facts, tally)
    if not results:
        return
    assert variant.id is not None
    existing = {
        (r.benchmark, r.task, r.metric, r.value, r.source)
        for r in session.exec(select(EvalResult).where(EvalResult.variant_id == variant.id))
    }
    for r in results:
        key = (r.benchmark, r.task, r.metric, r.value, r.source)
        if key in existing:
            continue
        existing.add(key)
        category, hib = _resolve(policy, r)
        row = EvalResult(
            variant_id=variant.id,
            **r.model_dump(exclude={"category", "higher_is_better"}),
            category=category,
            higher_is_better=hib,
        )
        row.settings = {**(row.settings or {}), "hub_sha": facts.sha}
        session.add(row)
        session.flush()
        translog.append(session, "evaluation.added", row.id or 0)
        tally.evaluations += 1


def _weight_digests(facts_files: list[tuple[str, str | None]]) -> set[str]:
    return {sha for path, sha in facts_files if sha and path.lower().endswith(WEIGHT_SUFFIXES)}


def _recognise_copy(session: Session, repo: HubRepo, variant: Variant, tally: _Tally) -> None:
    """A repo whose weight files are, by LFS SHA-256, exactly a registered variant's files is
    its copy: recorded as ``exact_copy_of`` and a ``repackaged`` edge, downloading nothing."""
    assert repo.id is not None and variant.id is not None
    mine = _weight_digests(
        [
            (f.path, f.sha256)
            for f in session.exec(select(HubFile).where(HubFile.hub_repo_id == repo.id))
        ]
    )
    repo.exact_copy_of = None
    if not mine:
        return
    candidates: dict[int, set[str]] = {}
    for vid, path, sha in session.exec(
        select(VariantFile.variant_id, VariantFile.path, VariantFile.sha256).where(
            col(VariantFile.sha256).in_(mine)
        )
    ):
        if path.lower().endswith(WEIGHT_SUFFIXES):
            candidates.setdefault(int(vid), set()).add(sha)
    for vid in sorted(v for v, shas in candidates.items() if shas == mine):
        theirs = _weight_digests(
            [
                (p, s)
                for p, s in session.exec(
                    select(VariantFile.path, VariantFile.sha256).where(
                        VariantFile.variant_id == vid
                    )
                )
            ]
        )
        original = session.get(Variant, vid)
        if theirs != mine or original is None or original.digest is None:
            continue
        repo.exact_copy_of = vid
        session.add(repo)
        if vid == variant.id:
            return  # the registered weights themselves, published under the same name
        evidence: dict[str, Any] = {
            "exact": "the same weight files by LFS SHA-256",
            "files": sorted(mine),
            "verdict": "identical",
        }
        edge = session.exec(
            select(LineageEdge).where(
                LineageEdge.child_id == variant.id, LineageEdge.parent_id == vid
            )
        ).first()
        if edge is not None:
            edge.status, edge.score, edge.evidence = (
                "verified",
                1.0,
                {
                    **(edge.evidence or {}),
                    **evidence,
                },
            )
            edge.updated_at = utcnow()
            session.add(edge)
        elif not is_ancestor_or_self(session, vid, variant.id) and not is_ancestor_or_self(
            session, variant.id, vid
        ):
            session.add(
                LineageEdge(
                    child_id=variant.id,
                    parent_id=vid,
                    relation="repackaged",
                    source="detected",
                    status="detected",
                    score=1.0,
                    evidence=evidence,
                )
            )
        session.flush()
        tally.exact_copies += 1
        return


def _record_counts(
    session: Session, variant: Variant, facts: RepoFacts, observed_at: datetime, tally: _Tally
) -> None:
    assert variant.id is not None
    observed_at = _aware(observed_at)
    for window, count in (("30d", facts.downloads), ("all", facts.downloads_all_time)):
        if count is None:
            continue
        exists = session.exec(
            select(DownloadSnapshot.id).where(
                DownloadSnapshot.variant_id == variant.id,
                DownloadSnapshot.window == window,
                DownloadSnapshot.observed_at == observed_at,
                DownloadSnapshot.source == "hub",
            )
        ).first()
        if exists is None:
            session.add(
                DownloadSnapshot(
                    variant_id=variant.id,
                    window=window,
                    count=int(count),
                    observed_at=observed_at,
                    source="hub",
                )
            )
            tally.snapshots += 1
    session.flush()
