"""Which evaluation results were corrected: read by listings and by safeguard statuses (a
retracted or superseded result counts for nothing)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, or_, select

from registry.db.models import Correction

RESULT_ACTIONS = ("evaluation.retract", "evaluation.supersede")


def corrections_of(session: Session, result_ids: list[int]) -> dict[int, Correction]:
    """The correction of each result that was retracted or superseded, or that replaced one
    (keyed by the corrected result's id and by the replacement's)."""
    if not result_ids:
        return {}
    rows = session.exec(
        select(Correction).where(
            col(Correction.action).in_(RESULT_ACTIONS),
            or_(
                col(Correction.result_id).in_(result_ids),
                col(Correction.replacement_id).in_(result_ids),
            ),
        )
    ).all()
    out: dict[int, Correction] = {}
    for c in rows:
        for rid in (c.result_id, c.replacement_id):
            if rid is not None and rid in result_ids:
                out[rid] = c
    return out


def corrected_ids() -> Any:
    """A subquery of the ids of results that count for nothing (retracted or superseded)."""
    return select(Correction.result_id).where(
        col(Correction.action).in_(RESULT_ACTIONS), col(Correction.result_id).is_not(None)
    )
