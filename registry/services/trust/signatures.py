"""Signed releases and attached OpenSSF model-signing bundles.

A release statement arrives with its registration: it must verify with an active publisher key
of the namespace, must not have been used before (no replays), and must say exactly what the
registration says. It is stored byte for byte and its digest goes into the registration's log
leaf. Unsigned registrations stay possible and show ``signature: null``.
"""

from __future__ import annotations

import hashlib
from typing import TypeVar

from pydantic import BaseModel
from sqlmodel import Session, col, select

from registry.db.engine import transaction
from registry.db.models import (
    AttachedSignature,
    LineageEdge,
    LogLeaf,
    SignedStatement,
    Variant,
    VariantFile,
)
from registry.errors import FilesMismatch, NotFound, SignatureInvalid, StatementReplayed
from registry.names import VariantRef
from registry.services.lineage.edge_log import edges_touching, log_edge_states
from registry.services.trust import keys as keys_service
from registry.services.trust import translog
from registry.trust.canonical import sha256_digest
from registry.trust.dsse import parse_envelope
from registry.trust.keys import key_id, load_public_key, public_key_pem
from registry.trust.openssf import SINGLE_FILE_RESOURCE, verify_bundle
from registry.trust.statements import check_release_matches, open_statement, parent_claims
from schemas.statements import RELEASE_PREDICATE, ReleaseStatement
from schemas.trust import AttachedSignaturePublic, SignatureInfo, StatementPublic
from schemas.variants import VariantCreate

S = TypeVar("S", bound=BaseModel)


def verified_statement(
    session: Session, envelope: str, namespace: str, model: type[S], *, role: str = "publisher"
) -> tuple[str, S, str]:
    """Open ``envelope`` with the namespace's active keys; refuse revoked keys and replays.

    Returns ``(key_id, statement, payload_sha256)``. Raises SignatureInvalid, KeyRevoked,
    StatementMismatch or StatementReplayed.
    """
    keys = keys_service.active_keys(session, namespace, role)
    try:
        kid, statement, payload = open_statement(envelope, keys, model)
    except SignatureInvalid:
        signed_by = [s.keyid for s in parse_envelope(envelope).signatures if s.keyid]
        keys_service.refuse_revoked(session, signed_by, namespace)
        if not keys:
            raise SignatureInvalid(
                f"namespace {namespace!r} has no active {role} key",
                hint=f"register one with `provreg keys add {namespace} KEYFILE.pub"
                + (" --role evaluator`" if role == "evaluator" else "`"),
            ) from None
        raise
    payload_sha = sha256_digest(payload)
    used = session.exec(
        select(SignedStatement).where(SignedStatement.payload_sha256 == payload_sha)
    ).first()
    if used is not None:
        raise StatementReplayed(
            "this signed statement was already used",
            hint="sign a fresh statement for each registration or claim",
            detail={"statement_id": used.id},
        )
    return kid, statement, payload_sha


def record_registration(
    session: Session,
    variant: Variant,
    request: VariantCreate,
    parents: list[tuple[VariantRef, str]],
) -> None:
    """Check and store the release statement (if any) and log the registration and its declared
    edges, in the registration's own transaction."""
    assert variant.id is not None
    if request.signed_statement is not None:
        namespace = variant.name.split("/", 1)[0]
        claims = parent_claims(request)
        kid, statement, payload_sha = verified_statement(
            session, request.signed_statement, namespace, ReleaseStatement
        )
        check_release_matches(statement, request, claims)
        session.add(
            SignedStatement(
                kind="release",
                predicate_type=RELEASE_PREDICATE,
                key_id=kid,
                variant_id=variant.id,
                payload_sha256=payload_sha,
                envelope=request.signed_statement.encode("utf-8"),
            )
        )
        session.flush()
    translog.append(session, "variant.registered", variant.id)
    edges = session.exec(
        select(LineageEdge)
        .where(LineageEdge.child_id == variant.id, LineageEdge.source == "declared")
        .order_by(col(LineageEdge.id))
    ).all()
    for edge in edges:
        translog.append(session, "lineage.declared", edge.id or 0)
    log_edge_states(session, edges_touching(session, variant.id))


def check_reposted_statement(session: Session, variant: Variant, request: VariantCreate) -> None:
    """A registration of unchanged weights that carries a release statement: the statement
    stored for it passes as it is; any other must verify and match, or it is refused (it is not
    stored either way: a registration's statement is the one it was made with)."""
    if request.signed_statement is None:
        return
    stored = _release(session, variant.id)
    if stored is not None and bytes(stored.envelope) == request.signed_statement.encode("utf-8"):
        return
    _, statement, _ = verified_statement(
        session, request.signed_statement, variant.name.split("/", 1)[0], ReleaseStatement
    )
    check_release_matches(statement, request, parent_claims(request))


def registration_index(session: Session, variant_id: int | None) -> int | None:
    return session.exec(
        select(LogLeaf.leaf_index).where(
            LogLeaf.kind == "variant.registered", LogLeaf.record_id == variant_id
        )
    ).first()


def _release(session: Session, variant_id: int | None) -> SignedStatement | None:
    return session.exec(
        select(SignedStatement).where(
            SignedStatement.variant_id == variant_id, SignedStatement.kind == "release"
        )
    ).first()


def signature_info(session: Session, variant_id: int | None) -> SignatureInfo | None:
    """``{key_id, signed_at, log_index}`` of the variant's release statement, or None."""
    statement = _release(session, variant_id)
    if statement is None:
        return None
    return SignatureInfo(
        key_id=statement.key_id,
        signed_at=statement.created_at,
        log_index=registration_index(session, variant_id),
    )


def get_release_statement(session: Session, variant: Variant) -> StatementPublic:
    """The stored release envelope of ``variant``; raises NotFound when it was unsigned."""
    statement = _release(session, variant.id)
    if statement is None:
        raise NotFound(
            f"{variant.ref} was registered unsigned",
            hint="register releases with `provreg register --sign KEYFILE`",
        )
    return StatementPublic(
        kind=statement.kind,
        predicate_type=statement.predicate_type,
        key_id=statement.key_id,
        envelope=bytes(statement.envelope).decode("utf-8"),
        log_index=registration_index(session, variant.id),
        signed_at=statement.created_at,
    )


def attach_bundle(
    session: Session, variant: Variant, bundle: str, public_key: str
) -> AttachedSignaturePublic:
    """Verify an OpenSSF model-signing bundle, check its manifest against the registered files,
    store it byte for byte and log it. Attaching the same bundle again changes nothing.

    Raises BundleInvalid, SignatureInvalid, KeyInvalid or FilesMismatch.
    """
    key = load_public_key(public_key, source="--public-key", allow_ec=True)
    manifest = verify_bundle(bundle, key)
    files = {
        f.path: f.sha256
        for f in session.exec(select(VariantFile).where(VariantFile.variant_id == variant.id))
    }
    if not files:
        raise FilesMismatch(f"{variant.ref} has no registered files to check the bundle against")
    signed = dict(manifest.files)
    if list(signed) == [SINGLE_FILE_RESOURCE] and len(files) == 1:
        signed = {next(iter(files)): signed[SINGLE_FILE_RESOURCE]}  # a bundle over one file
    missing = sorted(p for p in files if p not in signed)
    differ = sorted(p for p in files if p in signed and signed[p] != files[p])
    if missing or differ:
        parts = ([f"differ: {', '.join(differ)}"] if differ else []) + (
            [f"not in the bundle: {', '.join(missing)}"] if missing else []
        )
        raise FilesMismatch(
            f"the bundle does not match {variant.ref}'s registered files ({'; '.join(parts)})",
            hint="sign the same directory that was registered",
            detail={"differ": differ, "missing": missing},
        )
    kid = key_id(key)
    bundle_bytes = bundle.encode("utf-8")
    digest = "sha256:" + hashlib.sha256(bundle_bytes).hexdigest()
    with transaction(session):
        row = session.exec(
            select(AttachedSignature).where(
                AttachedSignature.variant_id == variant.id,
                AttachedSignature.bundle_sha256 == digest,
            )
        ).first()
        if row is None:
            row = AttachedSignature(
                variant_id=variant.id or 0,
                kind="openssf-model-signing",
                key_id=kid,
                public_key=public_key_pem(key),
                bundle=bundle_bytes,
                bundle_sha256=digest,
            )
            translog.append_row(session, row, "signature.attached")
    registered = kid in keys_service.active_keys(session, variant.name.split("/", 1)[0])
    return AttachedSignaturePublic(
        name=variant.name,
        revision=variant.revision,
        key_id=kid,
        key_registered=registered,
        files_checked=len(files),
        unregistered_files=sorted(p for p in signed if p not in files),
        bundle_sha256=digest,
        log_index=session.exec(
            select(LogLeaf.leaf_index).where(
                LogLeaf.kind == "signature.attached", LogLeaf.record_id == row.id
            )
        ).first(),
        signed_at=row.created_at,
    )
