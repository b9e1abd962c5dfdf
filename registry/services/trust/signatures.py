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
from registry.errors import (
    FilesMismatch,
    InvalidInput,
    NotFound,
    SignatureInvalid,
    StatementReplayed,
)
from registry.names import VariantRef
from registry.services.lineage.edge_log import edges_touching, log_edge_states
from registry.services.trust import keys as keys_service
from registry.services.trust import translog
from registry.trust.canonical import sha256_digest
from registry.trust.dsse import parse_envelope
from registry.trust.keys import key_id, load_public_key, public_key_pem
from registry.trust.openssf import SINGLE_FILE_RESOURCE, ModelSigningManifest, verify_bundle
from registry.trust.sigstore_bundles import Signer, is_certificate_bundle, verify_keyless_bundle
from registry.trust.statements import check_release_matches, open_statement, parent_claims
from schemas.statements import RELEASE_PREDICATE, ReleaseStatement
from schemas.trust import (
    AttachedSignaturePublic,
    AttachedSignatureSummary,
    SignatureInfo,
    SignerIdentity,
    StatementPublic,
)
from schemas.variants import VariantCreate

S = TypeVar("S", bound=BaseModel)
KEY_KIND = "openssf-model-signing"  # a bundle signed with a key
SIGSTORE_KIND = "openssf-model-signing-sigstore"  # keyless: a Fulcio certificate and Rekor


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


def _verified_bundle(
    bundle: str,
    public_key: str | None,
    trust_root: str | None,
    identity: str | None,
    issuer: str | None,
) -> tuple[ModelSigningManifest, str, Signer | None]:
    """The manifest of a bundle verified the way it was signed, the PEM of the key that signed
    it, and for a keyless bundle its signer."""
    keyless_options = {"--trust-root": trust_root, "--identity": identity, "--issuer": issuer}
    if not is_certificate_bundle(bundle):
        if any(v is not None for v in keyless_options.values()):
            raise InvalidInput(
                "the bundle is signed with a key, not a certificate: --trust-root, --identity "
                "and --issuer do not apply to it",
                hint="pass the public key it was signed with: --public-key PEM",
            )
        if public_key is None:
            raise InvalidInput(
                "a bundle signed with a key is verified with that key",
                hint="pass --public-key PEM",
            )
        key = load_public_key(public_key, source="--public-key", allow_ec=True)
        return verify_bundle(bundle, key), public_key_pem(key), None
    if public_key is not None:
        verify_bundle(bundle, load_public_key(public_key, source="--public-key", allow_ec=True))
    missing = [option for option, value in keyless_options.items() if not value]
    if missing:
        raise InvalidInput(
            "the bundle is signed keylessly (a Sigstore certificate), which is verified against "
            f"a trust root and the signer you expect: missing {', '.join(missing)}",
            hint="pass --trust-root trusted_root.json --identity SIGNER --issuer OIDC_ISSUER",
        )
    assert trust_root is not None and identity is not None and issuer is not None
    manifest, signer = verify_keyless_bundle(bundle, trust_root, identity=identity, issuer=issuer)
    return manifest, signer.leaf_public_key_pem, signer


def _check_files(
    session: Session, variant: Variant, manifest: ModelSigningManifest
) -> tuple[int, list[str]]:
    """Check the manifest against the registered files; returns how many were checked and the
    signed files that are not registered. Raises FilesMismatch."""
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
    return len(files), sorted(p for p in signed if p not in files)


def attach_bundle(
    session: Session,
    variant: Variant,
    bundle: str,
    public_key: str | None = None,
    *,
    trust_root: str | None = None,
    identity: str | None = None,
    issuer: str | None = None,
) -> AttachedSignaturePublic:
    """Verify an OpenSSF model-signing bundle, check its manifest against the registered files,
    store it byte for byte and log it. Attaching the same bundle again changes nothing.

    A bundle signed with a key is verified with ``public_key``; a keyless one (a Sigstore
    certificate and transparency-log entry) against ``trust_root`` for the signer ``identity``
    vouched for by ``issuer``, whom the record then names; a certificate is never verified by
    its leaf key alone. Raises InvalidInput, BundleInvalid, SignatureInvalid, KeyInvalid or
    FilesMismatch.
    """
    manifest, pem, signer = _verified_bundle(bundle, public_key, trust_root, identity, issuer)
    files_checked, unregistered = _check_files(session, variant, manifest)
    kid = key_id(load_public_key(pem, source="the signing key", allow_ec=True))
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
                kind=SIGSTORE_KIND if signer is not None else KEY_KIND,
                key_id=kid,
                public_key=pem,
                bundle=bundle_bytes,
                bundle_sha256=digest,
                signer_identity=signer.identity if signer is not None else None,
                signer_issuer=signer.issuer if signer is not None else None,
                trust_root_sha256=signer.trust_root_sha256 if signer is not None else None,
            )
            translog.append_row(session, row, "signature.attached")
    registered = kid in keys_service.active_keys(session, variant.name.split("/", 1)[0])
    return AttachedSignaturePublic(
        name=variant.name,
        revision=variant.revision,
        kind=row.kind,
        key_id=kid,
        key_registered=registered,
        signer=signer_of(row),
        files_checked=files_checked,
        unregistered_files=unregistered,
        bundle_sha256=digest,
        log_index=session.exec(
            select(LogLeaf.leaf_index).where(
                LogLeaf.kind == "signature.attached", LogLeaf.record_id == row.id
            )
        ).first(),
        signed_at=row.created_at,
    )


def signer_of(row: AttachedSignature) -> SignerIdentity | None:
    """The verified signer an attached keyless bundle names; None for a key-signed one."""
    if row.signer_identity is None or row.signer_issuer is None:
        return None
    return SignerIdentity(
        identity=row.signer_identity,
        issuer=row.signer_issuer,
        trust_root_sha256=row.trust_root_sha256 or "",
    )


def attached_signatures(session: Session, variant: Variant) -> list[AttachedSignatureSummary]:
    """The bundles attached to ``variant``, oldest first, with their log leaves and signers."""
    active = keys_service.active_keys(session, variant.name.split("/", 1)[0])
    rows = session.exec(
        select(AttachedSignature, LogLeaf.leaf_index)
        .outerjoin(
            LogLeaf,
            (col(LogLeaf.kind) == "signature.attached")
            & (col(LogLeaf.record_id) == col(AttachedSignature.id)),
        )
        .where(AttachedSignature.variant_id == variant.id)
        .order_by(col(AttachedSignature.id))
    ).all()
    return [
        AttachedSignatureSummary(
            kind=s.kind,
            key_id=s.key_id,
            key_registered=s.key_id in active,
            signer=signer_of(s),
            bundle_sha256=s.bundle_sha256,
            log_index=index,
            signed_at=s.created_at,
        )
        for s, index in rows
    ]
