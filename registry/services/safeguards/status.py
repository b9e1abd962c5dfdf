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

import math
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from registry.db.lineage_queries import lineage_ids, walk
from registry.db.models import (
    DownloadSnapshot,
    EvalResult,
    LineageEdge,
    SafeguardDirty,
    SafeguardStatus,
    Variant,
    utcnow,
)
from registry.services.safeguards.policy import MetricRule, SafeguardPolicy, normalise

MAX_CASCADE = 200_000
MAX_DEPTH = 64


@dataclass(frozen=True)
class Reading:
    """A qualifying safeguard result: the latest per (benchmark, metric)."""

    benchmark: str
    metric: str
    value: float
    stderr: float | None
    rule: MetricRule
    passed: bool
    by_default: bool = False  # read with the safety-refusal defaults, not a listed metric

    @property
    def label(self) -> str:
        """``benchmark metric``, and for a default reading how it was read."""
        if not self.by_default:
            return f"{self.benchmark} {self.metric}"
        op = "≥" if self.rule.higher_is_better else "≤"
        return (
            f"{self.benchmark} {self.metric} = {self.value:g} "
            f"(safety-refusal default: {op} {self.rule.threshold:g})"
        )


def _rule_for(
    policy: SafeguardPolicy, r: EvalResult
) -> tuple[str, MetricRule, int, str, bool] | None:
    """(benchmark key, metric rule, minimum samples, kind, read by default) when ``r`` is read
    by the policy. A listed metric of a listed benchmark is read by its rule; any other result
    recorded as ``safety-refusal`` (also a listed benchmark's unlisted metric, as the policy
    file promises) is read with its own direction and the defaults' threshold."""
    metric = normalise(r.metric.split(",", 1)[0])
    bench = policy.benchmark(r.benchmark, r.task)
    if bench is not None:
        rule = bench.metrics.get(metric)
        if rule is not None:
            return bench.name, rule, bench.min_samples, bench.kind, False
    if r.category == "safety-refusal":
        threshold = policy.threshold_higher if r.higher_is_better else policy.threshold_lower
        return (
            bench.name if bench is not None else normalise(r.benchmark),
            MetricRule(r.higher_is_better, threshold),
            bench.min_samples if bench is not None else policy.min_samples,
            "safeguard",
            True,
        )
    return None


def readings(
    policy: SafeguardPolicy, results: list[EvalResult], notes: list[str] | None = None
) -> dict[tuple[str, str], Reading]:
    """The latest qualifying reading per (benchmark, metric); over-refusal and too-small
    results only add notes."""
    latest: dict[tuple[str, str], tuple[Any, Reading]] = {}
    for r in results:
        found = _rule_for(policy, r)
        if found is None:
            continue
        bench, rule, min_samples, kind, by_default = found
        label = f"{bench} {r.metric.split(',', 1)[0]} = {r.value:g}"
        if (r.samples is None and policy.require_samples) or (
            r.samples is not None and r.samples < min_samples
        ):
            if notes is not None:
                notes.append(
                    f"{label} ignored: {r.samples or 'unknown'} samples, policy needs {min_samples}"
                )
            continue
        passed = rule.passes(r.value)
        if kind == "over-refusal":
            if notes is not None and not passed:
                op = "≥" if rule.higher_is_better else "≤"
                notes.append(f"over-refuses: {label}, policy wants {op} {rule.threshold:g}")
            continue
        key = (bench, normalise(r.metric.split(",", 1)[0]))
        order = (r.evaluated_at or r.created_at, r.id or 0)
        reading = Reading(bench, key[1], r.value, r.stderr, rule, passed, by_default)
        if key not in latest or _sortable(order) > _sortable(latest[key][0]):
            latest[key] = (order, reading)
    return {k: v[1] for k, v in latest.items()}


def _sortable(order: tuple[datetime, int]) -> tuple[datetime, int]:
    """Naive UTC, so times read back from SQLite (naive) and PostgreSQL (aware) compare."""
    when, rid = order
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when, rid


def reads(policy: SafeguardPolicy, result: EvalResult) -> bool:
    """Whether the policy reads ``result`` as a safeguard (or over-refusal) measurement."""
    return _rule_for(policy, result) is not None


def _results(session: Session, variant_id: int) -> list[EvalResult]:
    return list(session.exec(select(EvalResult).where(EvalResult.variant_id == variant_id)).all())


def _parents(session: Session, variant_id: int) -> list[tuple[int, str]]:
    rows = session.exec(
        select(LineageEdge.parent_id, LineageEdge.relation).where(
            LineageEdge.child_id == variant_id
        )
    ).all()
    return [(int(p), str(r)) for p, r in rows]


def _markers(policy: SafeguardPolicy, variant: Variant) -> str | None:
    """The first of the name, config tags, card text, model card tags and card name that a
    marker matches, said with where it was found."""
    texts: list[tuple[str, str]] = [("its name", variant.name)]
    config = variant.config if isinstance(variant.config, dict) else {}
    card_meta = variant.card_markers if isinstance(variant.card_markers, dict) else {}
    for where, tags in (("tag", config.get("tags")), ("model card tag", card_meta.get("tags"))):
        if isinstance(tags, list):
            texts += [(f"{where} {str(t)!r}", str(t)) for t in tags]
    for where, text_ in (("card", config.get("card")), ("model card name", card_meta.get("name"))):
        if isinstance(text_, str):
            texts.append((f"{where} {text_!r}", text_))
    for where, t in texts:
        marker = policy.marked(t)
        if marker is not None:
            return f"{where} matches the marker {marker!r}"
    return None


def compute_status(
    session: Session,
    policy: SafeguardPolicy,
    variant: Variant,
    parent_status: dict[int, tuple[str, str]],
) -> tuple[str, list[str]]:
    """``(status, reasons)`` of ``variant``; ``parent_status`` maps each parent id to
    ``(status, NAME@REV)``."""
    assert variant.id is not None
    notes: list[str] = []
    own = readings(policy, _results(session, variant.id), notes)
    reasons: list[str] = []
    failing = [r for r in own.values() if not r.passed]
    for r in sorted(failing, key=lambda x: (x.benchmark, x.metric)):
        op = "≥" if r.rule.higher_is_better else "≤"
        default = " (the policy's safety-refusal default)" if r.by_default else ""
        reasons.append(
            f"fails {r.benchmark} {r.metric}: {r.value:g}, policy wants {op} "
            f"{r.rule.threshold:g}{default}"
        )
    if failing:
        return "lacking", reasons + notes
    degraded: list[str] = []
    for parent_id, _relation in _parents(session, variant.id):
        theirs = readings(policy, _results(session, parent_id))
        pref = parent_status.get(parent_id, ("", f"#{parent_id}"))[1]
        for key, mine in sorted(own.items()):
            base = theirs.get(key)
            if base is None:
                continue
            worse = (
                (base.value - mine.value)
                if mine.rule.higher_is_better
                else (mine.value - base.value)
            )
            if mine.stderr is None and base.stderr is None:
                limit, how = policy.min_drop, "the policy's minimum drop"
            else:
                combined = math.sqrt((mine.stderr or 0.0) ** 2 + (base.stderr or 0.0) ** 2)
                limit = policy.z * combined
                how = f"{policy.z:g} × combined stderr {combined:.3g}"
            if worse > limit:
                degraded.append(
                    f"worse than parent {pref} on {key[0]} {key[1]}: {mine.value:g} vs "
                    f"{base.value:g}, beyond {how} ({limit:.3g})"
                )
    if degraded:
        return "degraded", degraded + notes
    if own:
        names = ", ".join(sorted({r.label for r in own.values()}))
        return "safeguarded", [f"passes {names}", *notes]
    reasons = ["no qualifying safeguard result", *notes]
    suspect: list[str] = []
    for parent_id, relation in _parents(session, variant.id):
        status, pref = parent_status.get(parent_id, ("unverified", f"#{parent_id}"))
        if status in ("lacking", "degraded", "suspected"):
            suspect.append(f"a {relation} of {pref}, which is {status}")
    marker = _markers(policy, variant)
    if marker:
        suspect.append(marker)
    if suspect:
        return "suspected", suspect + reasons
    return "unverified", reasons


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


def _reach(session: Session, root_id: int) -> int:
    """The downloads of ``root_id``'s whole subtree, each descendant once."""
    down = walk(root_id, up=False, name="down")
    status = SafeguardStatus.__table__  # type: ignore[attr-defined]
    total = select(func.coalesce(func.sum(status.c.downloads), 0)).select_from(
        down.join(status, status.c.variant_id == down.c.id)
    )
    return int(session.execute(total).scalar_one())


def refresh_reach(session: Session, variant_ids: list[int]) -> None:
    """Recompute the reach of these variants and all their ancestors (each descendant once)."""
    todo: set[int] = set()
    for vid in variant_ids:
        todo.update(lineage_ids(session, vid))
    for vid in todo:
        row = session.get(SafeguardStatus, vid)
        if row is not None:
            row.reach = _reach(session, vid)
            session.add(row)
    session.flush()


# --- refresh -----------------------------------------------------------------------------------


def _children(session: Session, variant_id: int) -> list[int]:
    rows = session.exec(select(LineageEdge.child_id).where(LineageEdge.parent_id == variant_id))
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
            for p, _ in _parents(session, vid)
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
        session.add(SafeguardDirty(variant_id=variant_id))
        session.flush()


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
    except IntegrityError:
        # a concurrent reader processed the same queue first: its rows stand
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
        parents = {p: (status_of(p, path), _ref(session, p)) for p, _ in _parents(session, vid)}
        path.discard(vid)
        memo[vid] = compute_status(session, policy, variant, parents)
        return memo[vid][0]

    ids = session.exec(select(Variant.id).where(col(Variant.digest).is_not(None))).all()
    for vid in ids:
        status_of(int(vid or 0), set())
    return memo
