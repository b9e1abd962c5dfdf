"""Evaluation results: record, import and list them.

Each accepted result is stored and logged (``evaluation.added``) in one transaction with the
refresh of the safeguard statuses it changes; an import is accepted whole or not at all.
"""

from __future__ import annotations

import base64
import hashlib
import json

from sqlmodel import Session, col, select

from registry.db.engine import transaction
from registry.db.models import Correction, EvalResult, SignedStatement, Variant
from registry.errors import EvalFileInvalid, StatementMismatch, StatementReplayed
from registry.names import VariantRef, parse_ref
from registry.services.evals.checks import check_entered, check_imported, check_signed
from registry.services.evals.corrected import corrections_of
from registry.services.evals.formats import read_results
from registry.services.pagination import id_page
from registry.services.safeguards.compute import reads, sharing_ids
from registry.services.safeguards.policy import BenchmarkRule, SafeguardPolicy, normalise
from registry.services.safeguards.status import refresh
from registry.services.trust import translog
from registry.services.trust.log_records import leaves_of
from registry.services.trust.signatures import verified_statement
from registry.services.variants.register import get_variant, resolve_variant
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
        source_sha256=row.source_sha256,
    )


def _marked(public: EvalResultPublic, correction: Correction | None) -> EvalResultPublic:
    """The listing's marks: retracted or superseded (with its replacement), or the result a
    replacement supersedes."""
    if correction is None:
        return public
    if correction.result_id == public.id:
        retracted = correction.action == "evaluation.retract"
        public.status = "retracted" if retracted else "superseded"
        public.reason, public.superseded_by = correction.reason, correction.replacement_id
    else:
        public.supersedes = correction.result_id
    return public


def add_results(
    session: Session, ref: VariantRef, results: list[EvalResultCreate], policy: SafeguardPolicy
) -> list[EvalResultPublic]:
    """Store and log ``results`` for ``ref`` in one transaction; refresh its safeguard status.

    Raises :class:`VariantNotFound`, or :class:`EvalFileInvalid` when there is nothing to store.
    """
    with transaction(session):
        checked = [check_entered(policy, r) for r in results]
        return _store(session, get_variant(session, ref), checked, policy, None)[0]


def add_signed_results(
    session: Session, body: SignedEvalCreate, policy: SafeguardPolicy
) -> list[EvalResultPublic]:
    """Accept an evaluator's signed statement: it must verify with an active evaluator key of
    the namespace it names, be used once, and name the registered digest of its subject.

    Raises SignatureInvalid, KeyRevoked, StatementMismatch, StatementReplayed, VariantNotFound.
    """
    namespace = _evaluator_namespace(body.envelope)
    with transaction(session):
        try:
            kid, statement, payload_sha = verified_statement(
                session, body.envelope, namespace, EvaluationStatement, role="evaluator"
            )
        except StatementReplayed:
            if body.source_sha256 is None:
                raise
            return []  # the same file signed again: the same statement, recorded already
        claim = statement.predicate
        variant = get_variant(session, parse_ref(claim.subject))
        if variant.digest != claim.digest or statement.subject[0].digest.get(
            "sha256"
        ) != claim.digest.removeprefix("sha256:"):
            raise StatementMismatch(
                f"the signed results are about other weights than the registered {variant.ref}",
                hint="sign results naming the registered digest (`provreg show`)",
            )
        recorded = _recorded_keys(session, variant, body.source_sha256)
        if recorded and all((r.benchmark, r.task, r.metric) in recorded for r in claim.results):
            return []  # the file was recorded already: nothing of it is stored again
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
        return _store(session, variant, results, policy, row, body.source_sha256)[0]


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


def _recorded_keys(
    session: Session, variant: Variant, source_sha256: str | None
) -> set[tuple[str, str | None, str]]:
    """(benchmark, task, metric) of the variant's results imported from this very file."""
    if source_sha256 is None:
        return set()
    rows = session.exec(
        select(EvalResult.benchmark, EvalResult.task, EvalResult.metric).where(
            EvalResult.variant_id == variant.id, EvalResult.source_sha256 == source_sha256
        )
    ).all()
    return {(b, t, m) for b, t, m in rows}


def _store(
    session: Session,
    variant: Variant,
    results: list[EvalResultCreate],
    policy: SafeguardPolicy,
    statement: SignedStatement | None,
    source_sha256: str | None = None,
) -> tuple[list[EvalResultPublic], int]:
    """Store and log ``results``; returns them and how many were skipped as recorded already
    (the same file's results: same SHA-256, benchmark, task and metric)."""
    if not results:
        raise EvalFileInvalid("no results to record", hint="give at least one result")
    out: list[EvalResultPublic] = []
    read = False
    assert variant.id is not None
    recorded = _recorded_keys(session, variant, source_sha256)
    fresh = [r for r in results if (r.benchmark, r.task, r.metric) not in recorded]
    # one transaction: the caller rolls back on any error
    for r in fresh:
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
            source_sha256=source_sha256,
        )
        session.add(row)
        session.flush()
        read = read or reads(policy, row)
        leaf = translog.append(session, "evaluation.added", row.id or 0)
        out.append(
            eval_public(row, variant, leaf.leaf_index, statement.key_id if statement else None)
        )
    if fresh:
        ids = sharing_ids(session, variant)  # byte-identical variants read these results too
        refresh(session, policy, ids, reach=False, readings_changed=read)
    session.commit()
    return out, len(results) - len(fresh)


def import_results(
    session: Session, ref: VariantRef, body: EvalImport, policy: SafeguardPolicy
) -> EvalImportResult:
    """Parse a results file and store all of it; raises :class:`EvalFileInvalid` naming the
    field at fault, storing nothing."""
    fmt, results, warnings = read_results(body.content, body.format, body.filename)
    results = check_imported(policy, results, warnings)
    digest = hashlib.sha256(body.content.encode("utf-8")).hexdigest()
    with transaction(session):
        variant = get_variant(session, ref)
        stored, skipped = (
            _store(session, variant, results, policy, None, digest) if results else ([], 0)
        )
    return EvalImportResult(
        name=variant.name,
        revision=variant.revision,
        format=fmt,
        imported=len(stored),
        already_recorded=skipped,
        results=stored,
        warnings=warnings,
    )


def list_results(session: Session, ref: VariantRef) -> EvalResultList:
    """A variant's results, oldest first, with those of byte-identical variants (marked
    ``shared_from``) and each correction marked; raises :class:`VariantNotFound`."""
    variant, note = resolve_variant(session, ref)
    ids = sharing_ids(session, variant)
    rows = session.exec(
        select(EvalResult).where(col(EvalResult.variant_id).in_(ids)).order_by(col(EvalResult.id))
    ).all()
    results = _publics(session, list(rows), shown_as=variant)
    return EvalResultList(name=variant.name, revision=variant.revision, results=results, note=note)


def list_all_results(
    session: Session, *, limit: int = 50, cursor: str | None = None
) -> EvalResultPage:
    """Every variant's results, newest first."""
    rows, next_cursor = id_page(
        session, select(EvalResult), col(EvalResult.id), limit=limit, cursor=cursor,
        newest_first=True,
    )  # fmt: skip
    return EvalResultPage(items=_publics(session, rows), next_cursor=next_cursor)


def _publics(
    session: Session, rows: list[EvalResult], *, shown_as: Variant | None = None
) -> list[EvalResultPublic]:
    """The wire form of ``rows`` with their log leaves, signing keys and corrections; with
    ``shown_as``, results of its byte-identical variants are marked ``shared_from``."""
    statement_ids = {r.statement_id for r in rows if r.statement_id}
    keys = {
        s.id: s.key_id
        for s in session.exec(
            select(SignedStatement).where(col(SignedStatement.id).in_(statement_ids))
        ).all()
    } if statement_ids else {}  # fmt: skip
    owners = {
        v.id: v
        for v in session.exec(
            select(Variant).where(col(Variant.id).in_({r.variant_id for r in rows}))
        ).all()
    }
    marks = corrections_of(session, [r.id or 0 for r in rows])
    results = []
    for r in rows:
        owner = owners[r.variant_id]
        public = eval_public(
            r,
            shown_as or owner,
            next(iter(leaves_of(session, "evaluation.added", r.id or 0)), None),
            keys.get(r.statement_id) if r.statement_id else None,
        )
        if shown_as is not None and owner.id != shown_as.id:
            public.shared_from = owner.ref
        results.append(_marked(public, marks.get(r.id or 0)))
    return results
