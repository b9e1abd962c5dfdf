"""How a safeguard status is computed: which results the policy reads, what parents pass
down, which names and card markers make a variant suspected."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from registry.db.lineage_queries import RETRACTED
from registry.db.models import (
    EvalResult,
    LineageEdge,
    Variant,
)
from registry.services.evals.corrected import corrected_ids
from registry.services.safeguards.policy import MetricRule, SafeguardPolicy, normalise

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


def sharing_ids(session: Session, variant: Variant) -> list[int]:
    """``variant`` and every registered variant with the same digest (byte-identical weights
    share their evaluation evidence)."""
    assert variant.id is not None
    if variant.digest is None:
        return [variant.id]
    ids = session.exec(select(Variant.id).where(Variant.digest == variant.digest)).all()
    return sorted({variant.id, *(int(i) for i in ids if i is not None)})


def _results(session: Session, variant_id: int) -> list[EvalResult]:
    """The results that count for the variant: its own and those of byte-identical variants
    (same digest; never of a modified copy), less retracted and superseded ones."""
    digest = session.exec(select(Variant.digest).where(Variant.id == variant_id)).first()
    same: Any = (
        select(Variant.id).where(Variant.digest == digest) if digest is not None else [variant_id]
    )
    return list(
        session.exec(
            select(EvalResult).where(
                col(EvalResult.variant_id).in_(same), col(EvalResult.id).not_in(corrected_ids())
            )
        ).all()
    )


def _shared_note(session: Session, variant: Variant, results: list[EvalResult]) -> list[str]:
    """Where results recorded against byte-identical variants came from."""
    others = sorted({r.variant_id for r in results if r.variant_id != variant.id})
    if not others:
        return []
    refs = ", ".join(_name(session, vid) for vid in others)
    return [f"results of {refs} count here: the same weights ({variant.digest})"]


def _name(session: Session, variant_id: int) -> str:
    other = session.get(Variant, variant_id)
    return other.ref if other is not None else f"#{variant_id}"


def parents_of(session: Session, variant_id: int) -> list[tuple[int, str]]:
    """``(parent id, relation)`` of each edge up from ``variant_id`` that counts (a retracted
    edge passes nothing down)."""
    rows = session.exec(
        select(LineageEdge.parent_id, LineageEdge.relation).where(
            LineageEdge.child_id == variant_id, LineageEdge.status != RETRACTED
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
    results = _results(session, variant.id)
    notes: list[str] = []
    own = readings(policy, results, notes)
    notes += _shared_note(session, variant, [r for r in results if reads(policy, r)])
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
    for parent_id, _relation in parents_of(session, variant.id):
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
    for parent_id, relation in parents_of(session, variant.id):
        status, pref = parent_status.get(parent_id, ("unverified", f"#{parent_id}"))
        if status in ("lacking", "degraded", "suspected"):
            suspect.append(f"a {relation} of {pref}, which is {status}")
    marker = _markers(policy, variant)
    if marker:
        suspect.append(marker)
    if suspect:
        return "suspected", suspect + reasons
    return "unverified", reasons
