"""Evaluation results: record, import and list them.

Each accepted result is stored and logged (``evaluation.added``) in one transaction with the
refresh of the safeguard statuses it changes; an import is accepted whole or not at all.
"""

from __future__ import annotations

import base64
import json

from sqlmodel import Session, col, select

from registry.db.engine import transaction
from registry.db.models import EvalResult, SignedStatement, Variant
from registry.errors import EvalFileInvalid, StatementMismatch
from registry.names import VariantRef, parse_ref
from registry.services.evals.checks import check_entered, check_imported, check_signed
from registry.services.evals.formats import read_results
from registry.services.pagination import id_page
from registry.services.safeguards.compute import reads
from registry.services.safeguards.policy import BenchmarkRule, SafeguardPolicy, normalise
from registry.services.safeguards.status import refresh
from registry.services.trust import translog
from registry.services.trust.log_records import leaves_of
from registry.services.trust.signatures import verified_statement
from registry.services.variants.register import get_variant
from registry.trust.dsse import parse_envelope
from schemas.evals import (
    EvalImport,
    EvalImportResult,
    EvalResultCreate,
    EvalResultList,
    EvalResultPublic,
    EvaluationStatement,
    SignedEvalCreate,
)
from schemas.lists import EvalResultPage
from schemas.statements import EVALUATION_PREDICATE


def resolve_category(policy: SafeguardPolicy, r: EvalResultCreate) -> tuple[str, bool]:
    """Category and direction: as given, else as the policy reads the benchmark."""
    rule = policy.benchmark(r.benchmark, r.task)
    metric_rule = rule.metrics.get(normalise(r.metric.split(",", 1)[0])) if rule else None
    category = r.category
    if category is None:
        if rule is None:
            category = "other"
        else:
            category = "over-refusal" if rule.kind == "over-refusal" else "safety-refusal"
    hib = r.higher_is_better
    if hib is None:
        hib = metric_rule.higher_is_better if metric_rule else _guess_direction(r.metric, rule)
    return category, hib


_LOWER_IS_BETTER = ("asr", "attack", "success", "complian", "fulfil", "harm", "jailbr")


def _guess_direction(metric: str, rule: BenchmarkRule | None) -> bool:
    """Direction of a metric the policy does not list: a refusal rate is better higher; attack
    success, compliance or harm rates lower; else the direction all the benchmark's listed
    metrics share; else higher."""
    name = normalise(metric.split(",", 1)[0])
    if "refus" in name:
        return True
    if any(word in name for word in _LOWER_IS_BETTER):
        return False
    directions = {m.higher_is_better for m in rule.metrics.values()} if rule else set()
    return directions.pop() if len(directions) == 1 else True


def eval_public(
    row: EvalResult, variant: Variant, log_index: int | None, key_id: str | None = None
) -> EvalResultPublic:
    return EvalResultPublic(
        id=row.id or 0,
        name=variant.name,
        revision=variant.revision,
        benchmark=row.benchmark,
        benchmark_version=row.benchmark_version,
        task=row.task,
        metric=row.metric,
        value=row.value,
        stderr=row.stderr,
        samples=row.samples,
        higher_is_better=row.higher_is_better,
        category=row.category,
        harness=row.harness,
        settings=row.settings,
        evaluator=row.evaluator,
        evaluated_at=row.evaluated_at,
        source=row.source,
        log_index=log_index,
        key_id=key_id,
        created_at=row.created_at,
    )


def add_results(
    session: Session, ref: VariantRef, results: list[EvalResultCreate], policy: SafeguardPolicy
) -> list[EvalResultPublic]:
    """Store and log ``results`` for ``ref`` in one transaction; refresh its safeguard status.

    Raises :class:`VariantNotFound`, or :class:`EvalFileInvalid` when there is nothing to store.
    """
    with transaction(session):
        checked = [check_entered(policy, r) for r in results]
        return _store(session, get_variant(session, ref), checked, policy, None)


def add_signed_results(
    session: Session, body: SignedEvalCreate, policy: SafeguardPolicy
) -> list[EvalResultPublic]:
    """Accept an evaluator's signed statement: it must verify with an active evaluator key of
    the namespace it names, be used once, and name the registered digest of its subject.

    Raises SignatureInvalid, KeyRevoked, StatementMismatch, StatementReplayed, VariantNotFound.
    """
    namespace = _evaluator_namespace(body.envelope)
    with transaction(session):
        kid, statement, payload_sha = verified_statement(
            session, body.envelope, namespace, EvaluationStatement, role="evaluator"
        )
        claim = statement.predicate
        variant = get_variant(session, parse_ref(claim.subject))
        if variant.digest != claim.digest or statement.subject[0].digest.get(
            "sha256"
        ) != claim.digest.removeprefix("sha256:"):
            raise StatementMismatch(
                f"the signed results are about other weights than the registered {variant.ref}",
                hint="sign results naming the registered digest (`provreg show`)",
            )
        row = SignedStatement(
            kind="evaluation",
            predicate_type=EVALUATION_PREDICATE,
            key_id=kid,
            variant_id=variant.id,
            payload_sha256=payload_sha,
            envelope=body.envelope.encode("utf-8"),
        )
        session.add(row)
        session.flush()
        results = check_signed(
            policy,
            [r.model_copy(update={"evaluator": r.evaluator or namespace}) for r in claim.results],
        )
        return _store(session, variant, results, policy, row)


def _evaluator_namespace(envelope: str) -> str:
    """The namespace whose evaluator keys must have signed, read before the payload is trusted
    (the signature is checked against exactly that namespace's keys next)."""
    try:
        payload = json.loads(base64.b64decode(parse_envelope(envelope).payload))
        namespace = str(payload["predicate"]["evaluator"])
    except (ValueError, KeyError, TypeError):
        raise StatementMismatch(
            "the envelope does not hold an evaluation statement naming its evaluator",
            hint="sign a statement with predicateType " + EVALUATION_PREDICATE,
        ) from None
    return namespace


def _store(
    session: Session,
    variant: Variant,
    results: list[EvalResultCreate],
    policy: SafeguardPolicy,
    statement: SignedStatement | None,
) -> list[EvalResultPublic]:
    if not results:
        raise EvalFileInvalid("no results to record", hint="give at least one result")
    out: list[EvalResultPublic] = []
    read = False
    assert variant.id is not None
    # one transaction: the caller rolls back on any error
    for r in results:
        category, hib = resolve_category(policy, r)
        row = EvalResult(
            variant_id=variant.id,
            benchmark=r.benchmark,
            benchmark_version=r.benchmark_version,
            task=r.task,
            metric=r.metric,
            value=r.value,
            stderr=r.stderr,
            samples=r.samples,
            higher_is_better=hib,
            category=category,
            harness=r.harness,
            settings=r.settings,
            evaluator=r.evaluator,
            evaluated_at=r.evaluated_at,
            source=r.source,
            statement_id=statement.id if statement else None,
        )
        session.add(row)
        session.flush()
        read = read or reads(policy, row)
        leaf = translog.append(session, "evaluation.added", row.id or 0)
        out.append(
            eval_public(row, variant, leaf.leaf_index, statement.key_id if statement else None)
        )
    refresh(session, policy, [variant.id], reach=False, readings_changed=read)
    session.commit()
    return out


def import_results(
    session: Session, ref: VariantRef, body: EvalImport, policy: SafeguardPolicy
) -> EvalImportResult:
    """Parse a results file and store all of it; raises :class:`EvalFileInvalid` naming the
    field at fault, storing nothing."""
    fmt, results, warnings = read_results(body.content, body.format, body.filename)
    results = check_imported(policy, results, warnings)
    with transaction(session):
        variant = get_variant(session, ref)
        stored = _store(session, variant, results, policy, None) if results else []
    return EvalImportResult(
        name=ref.name,
        revision=ref.revision,
        format=fmt,
        imported=len(stored),
        results=stored,
        warnings=warnings,
    )


def list_results(session: Session, ref: VariantRef) -> EvalResultList:
    """A variant's results, oldest first; raises :class:`VariantNotFound`."""
    variant = get_variant(session, ref)
    rows = session.exec(
        select(EvalResult).where(EvalResult.variant_id == variant.id).order_by(col(EvalResult.id))
    ).all()
    return EvalResultList(
        name=variant.name, revision=variant.revision, results=_publics(session, list(rows))
    )


def list_all_results(
    session: Session, *, limit: int = 50, cursor: str | None = None
) -> EvalResultPage:
    """Every variant's results, newest first."""
    rows, next_cursor = id_page(
        session, select(EvalResult), col(EvalResult.id), limit=limit, cursor=cursor,
        newest_first=True,
    )  # fmt: skip
    return EvalResultPage(items=_publics(session, rows), next_cursor=next_cursor)


def _publics(session: Session, rows: list[EvalResult]) -> list[EvalResultPublic]:
    """The wire form of ``rows``, with their log leaves and signing keys."""
    statement_ids = {r.statement_id for r in rows if r.statement_id}
    keys = {
        s.id: s.key_id
        for s in session.exec(
            select(SignedStatement).where(col(SignedStatement.id).in_(statement_ids))
        ).all()
    } if statement_ids else {}  # fmt: skip
    variants = {
        v.id: v
        for v in session.exec(
            select(Variant).where(col(Variant.id).in_({r.variant_id for r in rows}))
        ).all()
    }
    return [
        eval_public(
            r,
            variants[r.variant_id],
            next(iter(leaves_of(session, "evaluation.added", r.id or 0)), None),
            keys.get(r.statement_id) if r.statement_id else None,
        )
        for r in rows
    ]
