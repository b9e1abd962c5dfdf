"""Signed lineage corrections: the publisher of the child's namespace signs a declaration or a
retraction (``https://provreg.dev/lineage-correction/v1``); it is checked against the request
and stored byte for byte, and the correction's leaf covers it."""

from __future__ import annotations

from sqlmodel import Session

from registry.db.models import SignedStatement, Variant
from registry.errors import StatementMismatch
from registry.services.trust.signatures import verified_statement
from schemas.statements import LINEAGE_CORRECTION_PREDICATE, LineageCorrectionStatement


def signed_correction(
    session: Session,
    envelope: str | None,
    child: Variant,
    parent: str,
    action: str,
    *,
    relation: str | None = None,
    reason: str | None = None,
) -> SignedStatement | None:
    """Verify ``envelope`` (None: unsigned, nothing to do) with the child namespace's publisher
    keys, check it says exactly this correction, and store it (flushed). Raises
    SignatureInvalid, KeyRevoked, StatementReplayed or StatementMismatch."""
    if envelope is None:
        return None
    assert child.id is not None and child.digest is not None
    namespace = child.name.split("/", 1)[0]
    kid, statement, payload_sha = verified_statement(
        session, envelope, namespace, LineageCorrectionStatement
    )
    claim = statement.predicate
    said = (claim.action, claim.child, claim.child_digest, claim.parent, claim.relation)
    wanted = (action, child.ref, child.digest, parent, relation)
    subject = statement.subject[0].digest.get("sha256")
    if (
        said != wanted
        or subject != child.digest.removeprefix("sha256:")
        or (action == "retract" and claim.reason != reason)
    ):
        raise StatementMismatch(
            f"the signed statement does not say: {action} {parent} as a parent of {child.ref}",
            hint="sign the correction you send (`--sign KEYFILE` does)",
        )
    row = SignedStatement(
        kind="correction",
        predicate_type=LINEAGE_CORRECTION_PREDICATE,
        key_id=kid,
        variant_id=child.id,
        payload_sha256=payload_sha,
        envelope=envelope.encode("utf-8"),
    )
    session.add(row)
    session.flush()
    return row
