"""Evaluation corrections: retract a result, or supersede it with a corrected value.

Nothing is deleted: the result stays listed, marked ``retracted`` or ``superseded`` (with a
pointer to its replacement), and stops counting for safeguard statuses. Each correction is a
:class:`Correction` row logged as ``evaluation.retract`` / ``evaluation.supersede`` (a
replacement is also logged as ``evaluation.added``), in one transaction with the refresh of the
statuses it changes.
"""

from __future__ import annotations

from sqlmodel import Session

from registry.db.engine import transaction
from registry.db.models import ApiToken, Correction, EvalResult, Variant
from registry.errors import Conflict, EvalResultNotFound, PermissionDenied
from registry.services.evals.corrected import corrections_of
from registry.services.evals.results import eval_public
from registry.services.safeguards.compute import sharing_ids
from registry.services.safeguards.policy import SafeguardPolicy
from registry.services.safeguards.status import refresh
from registry.services.trust import translog
from schemas.corrections import EvalCorrectionPublic, EvalRetract, EvalSupersede


def _result(session: Session, result_id: int) -> tuple[EvalResult, Variant]:
    row = session.get(EvalResult, result_id)
    variant = session.get(Variant, row.variant_id) if row is not None else None
    if row is None or variant is None:
        raise EvalResultNotFound(
            f"no evaluation result {result_id}",
            hint="`provreg eval list NAME` shows the ids of a variant's results",
        )
    return row, variant


def _may_correct(token: ApiToken, row: EvalResult) -> None:
    """Admin and unbound evaluator tokens correct any result (as they add any); a token bound
    to a namespace corrects only results that namespace evaluated."""
    kind, _, bound = token.scope.partition(":")
    if token.scope == "admin" or (kind == "evaluate" and (not bound or bound == row.evaluator)):
        return
    raise PermissionDenied(
        f"token scope {token.scope!r} cannot correct result {row.id} "
        f"(evaluated by {row.evaluator or 'nobody named'})",
        hint="use an admin token, or an evaluate token of the evaluator's namespace",
    )


def _open(session: Session, result_id: int, token: ApiToken) -> tuple[EvalResult, Variant]:
    row, variant = _result(session, result_id)
    _may_correct(token, row)
    done = corrections_of(session, [result_id]).get(result_id)
    if done is not None and done.result_id == result_id:
        state = "retracted" if done.action == "evaluation.retract" else "superseded"
        then = f" by result {done.replacement_id}" if done.replacement_id else ""
        raise Conflict(
            f"result {result_id} is already {state}{then}",
            hint=f"correct result {done.replacement_id} instead"
            if done.replacement_id
            else "a retraction stands; add a new result with `provreg eval add`",
        )
    return row, variant


def _finish(
    session: Session,
    policy: SafeguardPolicy,
    correction: Correction,
    variant: Variant,
    replacement: EvalResult | None,
) -> tuple[int, int | None]:
    """Log the replacement and the correction; refresh the statuses that read the variant's
    results (its own and those of byte-identical copies). Returns the two leaf indexes."""
    added = None
    if replacement is not None:
        session.add(replacement)
        session.flush()
        added = translog.append(session, "evaluation.added", replacement.id or 0).leaf_index
        correction.replacement_id = replacement.id
    leaf = translog.append_row(session, correction, correction.action)
    refresh(session, policy, sharing_ids(session, variant), reach=False)
    return leaf.leaf_index, added


def retract_result(
    session: Session, result_id: int, body: EvalRetract, token: ApiToken, policy: SafeguardPolicy
) -> EvalCorrectionPublic:
    """Retract a result; raises EvalResultNotFound, PermissionDenied or Conflict (corrected
    already)."""
    with transaction(session):
        row, variant = _open(session, result_id, token)
        correction = Correction(
            action="evaluation.retract", result_id=row.id, reason=body.reason, actor=token.token_id
        )
        index, _ = _finish(session, policy, correction, variant, None)
        public = eval_public(row, variant, None)
        public.status, public.reason = "retracted", body.reason
        out = EvalCorrectionPublic(
            action="retracted",
            result=public,
            reason=body.reason,
            log_index=index,
            created_at=correction.created_at,
        )
    return out


def supersede_result(
    session: Session,
    result_id: int,
    body: EvalSupersede,
    token: ApiToken,
    policy: SafeguardPolicy,
) -> EvalCorrectionPublic:
    """Replace a result's value (and stderr) with a new result; the old one stays listed as
    superseded. Raises EvalResultNotFound, PermissionDenied or Conflict."""
    with transaction(session):
        row, variant = _open(session, result_id, token)
        data = row.model_dump(exclude={"id", "created_at", "statement_id", "source_sha256"})
        replacement = EvalResult(**{**data, "value": body.value, "stderr": body.stderr})
        correction = Correction(
            action="evaluation.supersede",
            result_id=row.id,
            reason=body.reason,
            actor=token.token_id,
        )
        index, added = _finish(session, policy, correction, variant, replacement)
        old = eval_public(row, variant, None)
        old.status, old.reason, old.superseded_by = "superseded", body.reason, replacement.id
        new = eval_public(replacement, variant, added)
        new.supersedes = row.id
        out = EvalCorrectionPublic(
            action="superseded",
            result=old,
            replacement=new,
            reason=body.reason,
            log_index=index,
            created_at=correction.created_at,
        )
    return out
