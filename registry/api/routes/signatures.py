"""Signatures: a variant's release statement and signatures, attached OpenSSF bundles, lineage
claims."""

from __future__ import annotations

from fastapi import APIRouter, status

from registry.api.deps import ERRORS, PublisherToken, SessionDep, variant_ref
from registry.services import require_publish
from registry.services.browse import variant_signatures
from registry.services.lineage.claims import claim_lineage, claim_namespace
from registry.services.trust.signatures import attach_bundle, get_release_statement
from registry.services.variants.register import get_variant
from schemas import AttachedSignaturePublic, AttachSignature, LineageClaimCreate, StatementPublic
from schemas.browse import VariantSignatures

router = APIRouter()


@router.get(
    "/variants/{namespace}/{name}/statement",
    response_model=StatementPublic,
    responses=ERRORS,
    tags=["signatures"],
)
def statement(
    namespace: str, name: str, session: SessionDep, revision: str | None = None
) -> StatementPublic:
    """The signed release statement, byte for byte as the publisher signed it."""
    return get_release_statement(
        session, get_variant(session, variant_ref(namespace, name, revision))
    )


@router.post(
    "/variants/{namespace}/{name}/signatures",
    response_model=AttachedSignaturePublic,
    status_code=status.HTTP_201_CREATED,
    responses=ERRORS,
    tags=["signatures"],
)
def attach(
    namespace: str,
    name: str,
    body: AttachSignature,
    session: SessionDep,
    token: PublisherToken,
    revision: str | None = None,
) -> AttachedSignaturePublic:
    """Attach an OpenSSF model-signing bundle after checking it against the registered files:
    signed with a key (``public_key``) or keyless by Sigstore (``trust_root``, ``identity``,
    ``issuer``; the signer is recorded)."""
    require_publish(token, namespace)
    variant = get_variant(session, variant_ref(namespace, name, revision))
    return attach_bundle(
        session,
        variant,
        body.bundle,
        body.public_key,
        trust_root=body.trust_root,
        identity=body.identity,
        issuer=body.issuer,
    )


@router.post(
    "/lineage/claims",
    response_model=StatementPublic,
    status_code=status.HTTP_201_CREATED,
    responses=ERRORS,
    tags=["signatures"],
)
def claim(body: LineageClaimCreate, session: SessionDep, token: PublisherToken) -> StatementPublic:
    """Accept a signed lineage claim about a registered child (publish:<child namespace>)."""
    require_publish(token, claim_namespace(body.envelope))
    return claim_lineage(session, body.envelope)


@router.get(
    "/variants/{namespace}/{name}/signatures",
    response_model=VariantSignatures,
    responses=ERRORS,
    tags=["browse"],
)
def signatures(
    namespace: str, name: str, session: SessionDep, revision: str | None = None
) -> VariantSignatures:
    """The release signature, attached bundles and the log leaves that record them."""
    return variant_signatures(session, variant_ref(namespace, name, revision))
