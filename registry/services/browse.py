"""Reads behind the explorer: name search, statuses in bulk, a variant's download series, the
advisories that reach it and its signatures.

Every page of the explorer is built from public ``/v1`` reads; these fill the gaps the other
reads leave, and scripts may use them just as well.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, tuple_
from sqlmodel import Session, col, select

from registry.db.engine import transaction
from registry.db.lineage_queries import ancestors
from registry.db.models import (
    Advisory,
    SafeguardStatus,
    Variant,
)
from registry.errors import InvalidInput
from registry.names import VariantRef
from registry.services.safeguards.advisories import advisory_public
from registry.services.safeguards.compute import MAX_DEPTH
from registry.services.safeguards.policy import SafeguardPolicy
from registry.services.safeguards.status import catch_up, refresh
from registry.services.trust.signatures import (
    attached_signatures,
    registration_index,
    signature_info,
)
from registry.services.variants.register import get_variant
from schemas.browse import (
    AdvisoryReach,
    SafeguardSummary,
    SafeguardSummaryList,
    VariantAdvisories,
    VariantMatch,
    VariantSearchResult,
    VariantSignatures,
)
from schemas.evals import SEVERITIES

MAX_SEARCH = 50
#: the longest search text: a name and a revision fit in it; SQLite refuses LIKE patterns over
#: 50,000 bytes ("LIKE or GLOB pattern too complex"), and each character may be escaped
MAX_QUERY_CHARS = 300
MAX_BATCH = 100


def like_escape(text: str) -> str:
    """``text`` for a LIKE pattern with ``escape="\\"``: its wildcards taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_variants(session: Session, query: str, *, limit: int = 10) -> VariantSearchResult:
    """Variants whose name contains ``query`` (case-insensitive; ``NAME@REV`` also narrows the
    revision by prefix), best match first. Raises InvalidInput for a limit out of range."""
    if not 1 <= limit <= MAX_SEARCH:
        raise InvalidInput(f"limit {limit} is out of range", hint=f"use 1 to {MAX_SEARCH}")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInput(
            f"the search text is {len(query):,} characters long",
            hint=f"search for at most {MAX_QUERY_CHARS} characters of a name",
        )
    q = query.strip().lower()
    name_part, _, rev_part = q.partition("@")
    if not name_part:
        return VariantSearchResult(query=query, items=[])
    esc = like_escape(name_part)
    lowered = func.lower(Variant.name)
    rank = case(
        (lowered == name_part, 0),
        (lowered.like(f"{esc}%", escape="\\"), 1),
        (lowered.like(f"%/{esc}%", escape="\\"), 2),
        else_=3,
    )
    stmt = select(Variant).where(lowered.like(f"%{esc}%", escape="\\"))
    if rev_part:
        stmt = stmt.where(
            func.lower(Variant.revision).like(f"{like_escape(rev_part)}%", escape="\\")
        )
    rows = session.exec(stmt.order_by(rank, Variant.name, Variant.revision).limit(limit)).all()
    return VariantSearchResult(
        query=query,
        items=[
            VariantMatch(
                name=v.name,
                revision=v.revision,
                digest=v.digest,
                format=v.format,
                registered=v.digest is not None,
            )
            for v in rows
        ],
    )


def safeguard_summaries(
    session: Session, policy: SafeguardPolicy, refs: list[VariantRef]
) -> SafeguardSummaryList:
    """Status, reasons, downloads and reach of each of ``refs`` (at most MAX_BATCH), in the order
    asked; refs not in the registry are listed in ``missing``. Raises InvalidInput."""
    if len(refs) > MAX_BATCH:
        raise InvalidInput(
            f"{len(refs)} variants asked for at once", hint=f"ask for at most {MAX_BATCH}"
        )
    if not refs:
        return SafeguardSummaryList(items=[])
    pairs = [(r.name, r.revision) for r in refs]
    found = {
        (v.name, v.revision): v
        for v in session.exec(
            select(Variant).where(tuple_(col(Variant.name), col(Variant.revision)).in_(pairs))
        )
    }
    ids = [v.id for v in found.values() if v.id is not None]
    catch_up(session, policy)
    rows = {r.variant_id: r for r in _status_rows(session, ids)}
    absent = [i for i in ids if i not in rows]
    if absent:
        with transaction(session):
            refresh(session, policy, absent)
        rows.update({r.variant_id: r for r in _status_rows(session, absent)})
    advised = _advisories_against(session, ids)
    items, missing = [], []
    for ref in refs:
        variant = found.get((ref.name, ref.revision))
        row = rows.get(variant.id) if variant is not None and variant.id is not None else None
        if variant is None or row is None:
            missing.append(str(ref))
            continue
        items.append(
            SafeguardSummary(
                name=variant.name,
                revision=variant.revision,
                status=row.status,
                reasons=list(row.reasons),
                downloads=int(row.downloads),
                reach=int(row.reach),
                advisories=advised.get(row.variant_id, (0, None))[0],
                advisory_severity=advised.get(row.variant_id, (0, None))[1],
            )
        )
    return SafeguardSummaryList(items=items, missing=missing)


def _advisories_against(session: Session, ids: list[int]) -> dict[int, tuple[int, Any]]:
    """variant id -> (how many advisories name it, the highest severity among them)."""
    out: dict[int, tuple[int, Any]] = {}
    if not ids:
        return out
    rows = session.exec(
        select(Advisory.variant_id, Advisory.severity).where(col(Advisory.variant_id).in_(ids))
    )
    for vid, severity in rows:
        count, worst = out.get(vid, (0, None))
        if worst is None or SEVERITIES.index(severity) > SEVERITIES.index(worst):
            worst = severity
        out[vid] = (count + 1, worst)
    return out


def _status_rows(session: Session, ids: list[int]) -> list[SafeguardStatus]:
    if not ids:
        return []
    return list(
        session.exec(select(SafeguardStatus).where(col(SafeguardStatus.variant_id).in_(ids)))
    )


def variant_advisories(session: Session, ref: VariantRef) -> VariantAdvisories:
    """Advisories against ``ref`` or any ancestor (an advisory reaches every descendant), newest
    first, each with the shortest path down to ``ref``; raises VariantNotFound."""
    variant = get_variant(session, ref)
    assert variant.id is not None
    nearest: dict[int, tuple[int, int]] = {}  # ancestor -> (depth, the child it was reached via)
    for w in ancestors(session, variant.id, MAX_DEPTH):
        if w.id not in nearest or w.depth < nearest[w.id][0]:
            nearest[w.id] = (w.depth, w.via)
    rows = session.exec(
        select(Advisory)
        .where(col(Advisory.variant_id).in_([variant.id, *nearest]))
        .order_by(col(Advisory.created_at).desc(), col(Advisory.id).desc())
    ).all()
    names = {
        v.id: v.ref
        for v in session.exec(select(Variant).where(col(Variant.id).in_([variant.id, *nearest])))
    }
    out = []
    for row in rows:
        chain = [row.variant_id]
        while chain[-1] != variant.id and chain[-1] in nearest and len(chain) <= MAX_DEPTH + 1:
            chain.append(nearest[chain[-1]][1])
        out.append(
            AdvisoryReach(
                advisory=advisory_public(session, row),
                via=[names.get(i, f"#{i}") for i in chain],
            )
        )
    return VariantAdvisories(name=variant.name, revision=variant.revision, advisories=out)


def variant_signatures(session: Session, ref: VariantRef) -> VariantSignatures:
    """The release signature, the attached bundles and their log leaves; raises
    VariantNotFound."""
    variant = get_variant(session, ref)
    assert variant.id is not None
    return VariantSignatures(
        name=variant.name,
        revision=variant.revision,
        registration_log_index=registration_index(session, variant.id),
        release=signature_info(session, variant.id),
        attached=attached_signatures(session, variant),
    )
