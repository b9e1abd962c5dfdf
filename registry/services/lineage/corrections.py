"""Lineage corrections: declare a parent after registration, retract a declared one.

Nothing is deleted. A retraction sets the edge's status to ``retracted`` (it stays in the
graph, with its reason, and counts for neither safeguards nor reach); declaring it again makes
it active again. Each change is a :class:`Correction` row logged as its own leaf
(``lineage.declare`` / ``lineage.retract``) beside the edge's ``lineage.status`` event, in one
transaction; a declaration that changes nothing writes nothing.
"""

from __future__ import annotations

from sqlmodel import Session

from registry.db.engine import transaction
from registry.db.models import Correction, LineageEdge, Variant, utcnow
from registry.errors import Conflict, EdgeNotFound, VariantNotFound
from registry.names import VariantRef
from registry.services.lineage.checks import check_declared_edge
from registry.services.lineage.claims import edge_between, new_declared_edge
from registry.services.lineage.correction_statements import signed_correction
from registry.services.lineage.edge_log import log_edge_states, retraction_reasons
from registry.services.safeguards.status import mark_dirty, refresh_reach
from registry.services.trust import translog
from registry.services.trust.log_records import leaves_of
from registry.services.variants.register import (
    edge_public,
    find_variant,
    get_variant,
    variant_or_placeholder,
)
from registry.services.variants.resolve import did_you_mean, resolve_ref, split_ref
from schemas.corrections import LineageCorrectionPublic, LineageDeclare, LineageRetract


def _registered_child(session: Session, ref: VariantRef) -> Variant:
    child = get_variant(session, ref)
    if child.digest is None:
        raise VariantNotFound(
            f"{ref} is known only as a declared parent; it has no registered weights",
            hint=f"register {ref} first",
            detail={"name": ref.name, "revision": ref.revision},
        )
    return child


def _parent_ref(session: Session, text: str) -> tuple[VariantRef, list[str], str | None]:
    """The parent a ``--parent NAME[@REV]`` means, warnings when it is not registered (with the
    closest registered name), and a note when a name without @REV resolved elsewhere."""
    name, revision = split_ref(text)
    ref, note = resolve_ref(session, name, revision)
    warnings: list[str] = []
    found = find_variant(session, ref)
    if found is None or found.digest is None:
        close = did_you_mean(session, ref.name)
        hint = f"; did you mean {close}?" if close else ""
        warnings.append(f"{ref} is not registered: the edge is recorded by name{hint}")
    return ref, warnings, note


def _log_correction(
    session: Session, correction: Correction, edge: LineageEdge, child: Variant, parent: Variant
) -> int:
    """Store and log the correction and the edge's new state; queue what it changes."""
    assert child.id is not None and parent.id is not None
    edge.updated_at = utcnow()
    session.add(edge)
    session.flush()
    correction.edge_id = edge.id
    leaf = translog.append_row(session, correction, correction.action)
    log_edge_states(session, [edge])
    mark_dirty(session, child.id)  # its status (and its descendants') at the next read
    refresh_reach(session, [parent.id])  # the parent's subtree gained or lost the child's
    return leaf.leaf_index


def _child(session: Session, name: str, revision: str | None) -> tuple[Variant, str | None]:
    ref, note = resolve_ref(session, name, revision)
    return _registered_child(session, ref), note


def _notes(*notes: str | None) -> str | None:
    return "; ".join(n for n in notes if n) or None


def declare_parent(
    session: Session, name: str, revision: str | None, body: LineageDeclare, actor: str | None
) -> LineageCorrectionPublic:
    """Declare ``body.parent`` a parent of the registered child ``name[@revision]``: a new
    edge, a detected edge made declared, or a retracted edge made active again; ``unchanged``
    when so declared already. The edge is checked against the weights. Raises VariantNotFound,
    LineageCycle,
    Conflict (declared already with another relation) and the signature errors."""
    with transaction(session):
        child, child_note = _child(session, name, revision)
        parent_ref, warnings, parent_note = _parent_ref(session, body.parent)
        note = _notes(child_note, parent_note)
        parent = variant_or_placeholder(session, parent_ref)
        assert child.id is not None and parent.id is not None
        edge = edge_between(session, child, parent)
        if edge is not None and edge.source == "declared" and edge.status != "retracted":
            if edge.relation != body.relation:
                raise Conflict(
                    f"{child.ref} is already declared a {edge.relation} of {parent.ref}",
                    hint=f"retract it first (`provreg lineage retract {child.ref} --parent "
                    f"{parent.ref} --reason ...`), then declare the {body.relation}",
                )
            out = edge_public(edge, child.ref, parent.ref)
            return LineageCorrectionPublic(
                outcome="unchanged", edge=out, warnings=warnings, note=note
            )
        statement = signed_correction(
            session, body.envelope, child, parent.ref, "declare", relation=body.relation
        )
        if edge is None:
            edge = new_declared_edge(session, child, parent, body.relation)
            outcome = "declared"
        else:
            outcome = "reactivated" if edge.status == "retracted" else "declared"
            edge.relation, edge.source = body.relation, "declared"
        session.add(edge)
        session.flush()
        check_declared_edge(session, edge)
        correction = Correction(
            action="lineage.declare",
            relation=body.relation,
            actor=actor,
            statement_id=statement.id if statement else None,
        )
        index = _log_correction(session, correction, edge, child, parent)
        assert edge.id is not None
        if not leaves_of(session, "lineage.declared", edge.id):
            translog.append(session, "lineage.declared", edge.id)
        result = LineageCorrectionPublic(
            outcome=outcome,
            edge=edge_public(edge, child.ref, parent.ref),
            log_index=index,
            key_id=statement.key_id if statement else None,
            warnings=warnings,
            note=note,
        )
    return result


def retract_parent(
    session: Session, name: str, revision: str | None, body: LineageRetract, actor: str | None
) -> LineageCorrectionPublic:
    """Retract the declared edge from the child ``name[@revision]`` to ``body.parent``;
    ``unchanged`` when it is retracted already. Raises VariantNotFound, EdgeNotFound, Conflict
    (a detected edge is the weights' evidence, not a declaration) and the signature errors."""
    with transaction(session):
        child, child_note = _child(session, name, revision)
        parent_ref, parent_note = resolve_ref(session, *split_ref(body.parent))
        note = _notes(child_note, parent_note)
        parent = find_variant(session, parent_ref)
        edge = edge_between(session, child, parent) if parent is not None else None
        if parent is None or edge is None:
            raise EdgeNotFound(
                f"{child.ref} has no edge to {parent_ref}",
                hint=f"`provreg lineage {child.ref} --up` lists its parents",
            )
        if edge.source != "declared":
            raise Conflict(
                f"the edge {child.ref} -> {parent.ref} was detected from the weights, not "
                "declared: there is no declaration to retract",
                hint="declared edges only can be retracted",
            )
        if edge.status == "retracted":
            out = edge_public(edge, child.ref, parent.ref)
            out.reason = retraction_reasons(session, [edge.id or 0]).get(edge.id or 0)
            return LineageCorrectionPublic(outcome="unchanged", edge=out, note=note)
        statement = signed_correction(
            session, body.envelope, child, parent.ref, "retract", reason=body.reason
        )
        edge.status = "retracted"
        correction = Correction(
            action="lineage.retract",
            relation=edge.relation,
            reason=body.reason,
            actor=actor,
            statement_id=statement.id if statement else None,
        )
        index = _log_correction(session, correction, edge, child, parent)
        out = edge_public(edge, child.ref, parent.ref)
        out.reason = body.reason
        result = LineageCorrectionPublic(
            outcome="retracted",
            edge=out,
            log_index=index,
            key_id=statement.key_id if statement else None,
            note=note,
        )
    return result
