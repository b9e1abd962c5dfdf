"""Signed lineage claims: a publisher of the child's namespace says it descends from a parent.

The claim is a DSSE-wrapped in-toto statement (``https://provreg.dev/lineage/v1``) about a
registered child. Accepting it makes the edge declared (a detected edge becomes ``verified``),
stores the envelope byte for byte and logs ``lineage.claimed``, all in one transaction.
"""

from __future__ import annotations

import base64
import json

from sqlmodel import Session, select

from registry.db.engine import transaction
from registry.db.lineage_queries import is_ancestor_or_self
from registry.db.models import LineageEdge, SignedStatement, Variant, utcnow
from registry.errors import Conflict, LineageCycle, StatementMismatch
from registry.names import parse_ref
from registry.services.lineage.edge_log import log_edge_states
from registry.services.safeguards.status import mark_dirty
from registry.services.trust import translog
from registry.services.trust.signatures import verified_statement
from registry.services.variants.register import get_variant, variant_or_placeholder
from registry.trust.dsse import parse_envelope
from schemas.statements import LINEAGE_PREDICATE, LineageStatement
from schemas.trust import StatementPublic


def edge_between(session: Session, child: Variant, parent: Variant) -> LineageEdge | None:
    """The edge from ``child`` to ``parent``, whatever its source and status, if any."""
    return session.exec(
        select(LineageEdge).where(
            LineageEdge.child_id == child.id, LineageEdge.parent_id == parent.id
        )
    ).first()


def new_declared_edge(
    session: Session, child: Variant, parent: Variant, relation: str
) -> LineageEdge:
    """A new declared edge, ``unverified`` until the weights are compared (not added to the
    session); raises :class:`LineageCycle` when ``parent`` already descends from ``child``."""
    assert child.id is not None and parent.id is not None
    if is_ancestor_or_self(session, child.id, parent.id):
        raise LineageCycle(
            f"declaring {parent.ref} as a parent of {child.ref} would close a cycle",
            hint=f"{parent.ref} already descends from {child.ref}",
        )
    return LineageEdge(
        child_id=child.id,
        parent_id=parent.id,
        relation=relation,
        source="declared",
        status="unverified",
    )


def claim_namespace(envelope: str) -> str:
    """The namespace whose keys must have signed, read from the payload before it is trusted
    (the signature is checked against exactly that namespace's keys next)."""
    try:
        payload = json.loads(base64.b64decode(parse_envelope(envelope).payload))
        return str(parse_ref(payload["predicate"]["child"]).namespace)
    except (ValueError, KeyError, TypeError):
        raise StatementMismatch(
            "the envelope does not hold a lineage statement naming a child",
            hint="sign a statement with predicateType " + LINEAGE_PREDICATE,
        ) from None


def claim_lineage(session: Session, envelope: str) -> StatementPublic:
    """Accept a signed lineage claim; raises SignatureInvalid, KeyRevoked, StatementMismatch,
    StatementReplayed, VariantNotFound, LineageCycle or Conflict."""
    namespace = claim_namespace(envelope)
    with transaction(session):
        kid, statement, payload_sha = verified_statement(
            session, envelope, namespace, LineageStatement
        )
        claim = statement.predicate
        child = get_variant(session, parse_ref(claim.child))
        if child.digest != claim.child_digest or statement.subject[0].digest.get(
            "sha256"
        ) != claim.child_digest.removeprefix("sha256:"):
            raise StatementMismatch(
                f"the claim is about other weights than the registered {child.ref}",
                hint="sign a claim naming the registered digest",
            )
        parent = variant_or_placeholder(session, parse_ref(claim.parent))
        assert child.id is not None and parent.id is not None
        edge = edge_between(session, child, parent)
        if edge is None:
            edge = new_declared_edge(session, child, parent, claim.relation)
        elif edge.status == "retracted":
            raise Conflict(
                f"the edge {child.ref} -> {parent.ref} was retracted",
                hint=f"declare it again with `provreg lineage declare {child.ref} --parent "
                f"{parent.ref} --relation {claim.relation}`",
            )
        elif edge.source == "declared" and edge.relation != claim.relation:
            raise Conflict(
                f"{child.ref} is already declared a {edge.relation} of {parent.ref}",
                hint="a declared relation does not change; claim the same relation",
            )
        elif edge.source == "detected":
            edge.source, edge.status, edge.relation = "declared", "verified", claim.relation
        edge.updated_at = utcnow()
        session.add(edge)
        session.flush()
        row = SignedStatement(
            kind="lineage",
            predicate_type=LINEAGE_PREDICATE,
            key_id=kid,
            variant_id=child.id,
            edge_id=edge.id,
            payload_sha256=payload_sha,
            envelope=envelope.encode("utf-8"),
        )
        leaf = translog.append_row(session, row, "lineage.claimed")
        log_edge_states(session, [edge])
        mark_dirty(session, child.id)
    return StatementPublic(
        kind="lineage",
        predicate_type=LINEAGE_PREDICATE,
        key_id=kid,
        envelope=envelope,
        log_index=leaf.leaf_index,
        signed_at=row.created_at,
    )
