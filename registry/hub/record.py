"""Recording one observed Hub repo: its files, its card's declared edges and results, its
download counters, and whether it is an exact copy of a registered variant.

Each function works inside the caller's transaction (the sync commits once per repo).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert
from sqlmodel import Session, col, select

from registry.db.lineage_queries import RETRACTED, is_ancestor_or_self
from registry.db.models import (
    DownloadSnapshot,
    EvalResult,
    HubFile,
    HubRepo,
    LineageEdge,
    Variant,
    VariantFile,
    utcnow,
)
from registry.errors import EvalFileInvalid, EvalValueInvalid, InvalidInput, ModelCardInvalid
from registry.hub.reader import HUB_RELATIONS, RepoFacts
from registry.names import VariantRef, validate_name
from registry.services.evals.checks import check_imported
from registry.services.evals.formats import read_hf_eval_results, read_model_index
from registry.services.evals.results import resolve_category
from registry.services.lineage.edge_log import log_edge_states
from registry.services.safeguards.policy import SafeguardPolicy
from registry.services.trust import translog
from registry.services.variants.cards import declared_parents_from_metadata
from registry.services.variants.register import variant_or_placeholder
from schemas import EvalResultCreate

WEIGHT_SUFFIXES = (".safetensors", ".gguf", ".onnx", ".bin", ".pt", ".pth", ".ckpt", ".pkl")


@dataclass
class SyncTally:
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


def aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def record_files(session: Session, repo: HubRepo, facts: RepoFacts) -> None:
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
    relation falling back to the Hub's ``base_model:RELATION:ID`` tags, then as the Hub infers.
    Raises ModelCardInvalid."""
    hint = next(
        (r for t in facts.tags for r in HUB_RELATIONS if t.startswith(f"base_model:{r}:")), None
    )
    parents = declared_parents_from_metadata(
        facts.card,
        f"{facts.repo_id} (card)",
        relation_hint=hint,
        files=[f.path for f in facts.files or []],
    )
    return [(p.name, p.relation) for p in parents]


def record_declared(session: Session, variant: Variant, facts: RepoFacts, tally: SyncTally) -> None:
    assert variant.id is not None
    try:
        declared = declared_parents(facts)
    except ModelCardInvalid as exc:
        tally.notes.append(f"{facts.repo_id}: base_model ignored: {exc.message}")
        return
    for base, relation in declared:
        try:
            parent_ref = VariantRef(validate_name(base), "main")
        except InvalidInput:
            tally.notes.append(f"{facts.repo_id}: base_model {base!r} is not a repo id")
            continue
        parent = variant_or_placeholder(session, parent_ref)
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
                session.flush()
                log_edge_states(session, [edge])
            continue
        if _has_children(session, variant.id) and is_ancestor_or_self(
            session, variant.id, parent.id
        ):
            tally.notes.append(f"{facts.repo_id}: base_model {base} would close a cycle")
            continue
        declared_edge = LineageEdge(
            child_id=variant.id,
            parent_id=parent.id,
            relation=relation,
            source="declared",
            status="unverified",
            evidence={"declared_by": "model card", "hub_sha": facts.sha},
        )
        session.add(declared_edge)
        session.flush()
        # logged like a publisher's declaration, so the audit can account for every edge
        translog.append(session, "lineage.declared", declared_edge.id or 0)
        log_edge_states(session, [declared_edge])
        tally.declared_edges += 1


def _has_children(session: Session, variant_id: int) -> bool:
    """Cheap first check before the recursive cycle check: a variant without children cannot
    be its new parent's ancestor."""
    return (
        session.exec(
            select(LineageEdge.id).where(LineageEdge.parent_id == variant_id).limit(1)
        ).first()
        is not None
    )


def _card_results(facts: RepoFacts, tally: SyncTally) -> list[EvalResultCreate]:
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


def record_evals(
    session: Session,
    variant: Variant,
    facts: RepoFacts,
    policy: SafeguardPolicy,
    tally: SyncTally,
) -> None:
    """Store and log the card's results that are not stored already (a new commit repeats
    the card's old results)."""
    results = _card_results(facts, tally)
    try:
        results = check_imported(policy, results, tally.notes)
    except EvalValueInvalid as exc:
        tally.notes.append(f"{facts.repo_id}: card results ignored: {exc.message}")
        return
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
        category, hib = resolve_category(policy, r)
        row = EvalResult(
            variant_id=variant.id,
            **r.model_dump(exclude={"category", "higher_is_better"}),
            category=category,
            higher_is_better=hib,
        )
        row.settings = {**(row.settings or {}), "hub_sha": facts.sha}
        translog.append_row(session, row, "evaluation.added")
        tally.evaluations += 1


def _weight_digests(facts_files: list[tuple[str, str | None]]) -> set[str]:
    return {sha for path, sha in facts_files if sha and path.lower().endswith(WEIGHT_SUFFIXES)}


def recognise_copy(session: Session, repo: HubRepo, variant: Variant, tally: SyncTally) -> None:
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
        if edge is not None and edge.status == RETRACTED:
            pass  # a publisher's retraction stands until they declare the edge again
        elif edge is not None:
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
            session.flush()
            log_edge_states(session, [edge])
        elif not is_ancestor_or_self(session, vid, variant.id) and not is_ancestor_or_self(
            session, variant.id, vid
        ):
            copy_edge = LineageEdge(
                child_id=variant.id,
                parent_id=vid,
                relation="repackaged",
                source="detected",
                status="detected",
                score=1.0,
                evidence=evidence,
            )
            session.add(copy_edge)
            session.flush()
            log_edge_states(session, [copy_edge])
        session.flush()
        tally.exact_copies += 1
        return


def record_counts(
    session: Session,
    variant: Variant,
    facts: RepoFacts,
    observed_at: datetime,
    tally: SyncTally,
    *,
    only_changed: bool = False,
) -> None:
    """Both counters as ``hub`` snapshots at the sync's start. The item is recorded once per
    sync, so no snapshot can exist yet (the unique constraint would refuse a second).

    With ``only_changed`` a counter is recorded only when it differs from the latest ``hub``
    snapshot of its window: a scan, which has no frontier to say it saw a repo already, adds no
    second observation of the same figures when it is run again (or resumed)."""
    latest: dict[str, int] = {}
    if only_changed:
        for window, count in session.exec(
            select(DownloadSnapshot.window, DownloadSnapshot.count)
            .where(DownloadSnapshot.variant_id == variant.id, DownloadSnapshot.source == "hub")
            .order_by(col(DownloadSnapshot.observed_at))
        ):
            latest[window] = count
    rows = [
        {
            "variant_id": variant.id,
            "window": window,
            "count": int(count),
            "observed_at": aware(observed_at),
            "source": "hub",
        }
        for window, count in (("30d", facts.downloads), ("all", facts.downloads_all_time))
        if count is not None and latest.get(window) != int(count)
    ]
    if rows:
        session.execute(insert(DownloadSnapshot), rows)
        tally.snapshots += len(rows)
