"""Keys, signatures and the transparency log on the wire."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from schemas.common import UtcDatetime

KeyRole = Literal["publisher", "evaluator"]


class KeyCreate(BaseModel):
    namespace: str
    public_key: str = Field(
        description="SubjectPublicKeyInfo PEM: Ed25519, or ECDSA P-256/384/521 (model-signing)"
    )
    role: KeyRole = "publisher"


class KeyPublic(BaseModel):
    key_id: str = Field(description="hex SHA-256 of the public key's DER SubjectPublicKeyInfo")
    namespace: str
    role: KeyRole
    public_key: str
    active: bool
    created_at: UtcDatetime | None = None
    revoked_at: UtcDatetime | None = None
    added_log_index: int | None = None
    revoked_log_index: int | None = Field(
        default=None, description="signatures logged before this index stay valid"
    )


class SignatureInfo(BaseModel):
    key_id: str
    signed_at: UtcDatetime | None = Field(description="when the signed statement was logged")
    log_index: int | None


class StatementPublic(BaseModel):
    kind: str = Field(description="release, lineage or evaluation")
    predicate_type: str
    key_id: str
    envelope: str = Field(description="the DSSE envelope exactly as it was signed and stored")
    log_index: int | None
    signed_at: UtcDatetime | None = None


class LineageClaimCreate(BaseModel):
    envelope: str = Field(description="DSSE envelope of a lineage statement, verbatim JSON")


class AttachSignature(BaseModel):
    """A bundle signed with a key (``public_key``), or keyless by Sigstore (``trust_root``,
    ``identity`` and ``issuer``: a certificate is never verified by its leaf key alone)."""

    bundle: str = Field(description="an OpenSSF model-signing (sigstore) bundle, verbatim JSON")
    public_key: str | None = Field(
        default=None, description="PEM public key a key-signed bundle was signed with"
    )
    trust_root: str | None = Field(
        default=None,
        description="sigstore trusted_root.json (Fulcio CAs, CT logs, Rekor keys) to verify a "
        "keyless bundle against, verbatim JSON",
    )
    identity: str | None = Field(
        default=None, description="the signer a keyless bundle must name (email or URI SAN)"
    )
    issuer: str | None = Field(
        default=None, description="the OIDC issuer that must have vouched for `identity`"
    )


class SignerIdentity(BaseModel):
    """Who signed a keyless bundle, checked against a trust root and an identity policy."""

    identity: str = Field(description="the certificate's SAN that matched (email or URI)")
    issuer: str = Field(description="the OIDC issuer named in the certificate")
    trust_root_sha256: str = Field(description="sha256 of the trusted_root.json verified with")


class AttachedSignatureSummary(BaseModel):
    kind: str
    key_id: str
    key_registered: bool = Field(description="the key is an active key of the namespace")
    signer: SignerIdentity | None = Field(
        default=None, description="keyless bundles: the verified signer; null for key-signed"
    )
    bundle_sha256: str
    log_index: int | None
    signed_at: UtcDatetime | None = None


class AttachedSignaturePublic(BaseModel):
    name: str
    revision: str
    kind: str = "openssf-model-signing"
    key_id: str
    key_registered: bool = Field(description="the key is an active key of the namespace")
    files_checked: int
    unregistered_files: list[str] = Field(
        default_factory=list, description="in the bundle's manifest but not registered"
    )
    signer: SignerIdentity | None = Field(
        default=None, description="keyless bundles: the verified signer; null for key-signed"
    )
    bundle_sha256: str
    log_index: int | None
    signed_at: UtcDatetime | None = None


class LogKey(BaseModel):
    origin: str
    public_key: str = Field(description="Ed25519 PEM that signs checkpoints")
    key_id: str


class CheckpointPublic(BaseModel):
    origin: str
    tree_size: int
    root_hash: str = Field(description="hex")
    note: str = Field(description="the C2SP signed note: checkpoint body and signature lines")


class InclusionProof(BaseModel):
    index: int
    tree_size: int
    leaf_hash: str = Field(description="hex")
    hashes: list[str] = Field(description="audit path, hex, leaf side first")


class ConsistencyProof(BaseModel):
    first: int
    second: int
    hashes: list[str] = Field(description="hex, RFC 9162 order")


class LogEntryPublic(BaseModel):
    index: int
    kind: str
    data: str = Field(description="the leaf data: canonical JSON of the event")
    leaf_hash: str = Field(description="hex SHA-256(0x00 || data)")


class AuditProblem(BaseModel):
    index: int | None = None
    kind: str = Field(description="record_changed, leaf_changed, node_changed, root_changed, ...")
    message: str


class AuditReport(BaseModel):
    ok: bool
    tree_size: int
    root_hash: str
    leaves_checked: int
    nodes_checked: int
    problems: list[AuditProblem] = Field(default_factory=list)


class RestoreReport(BaseModel):
    """What `provreg restore` wrote, and the log it re-derived."""

    rows: int
    counts: dict[str, int] = Field(description="rows restored per table")
    tree_size: int
    root_hash: str
    log_key_id: str = Field(description="the key that signed the dump's checkpoint")


class DumpSummary(BaseModel):
    """What `provreg dump --out FILE` wrote."""

    path: str
    rows: int
    counts: dict[str, int]
    tree_size: int
    root_hash: str


class VerifyCheck(BaseModel):
    check: str
    ok: bool
    detail: str = ""


class VerifyReport(BaseModel):
    name: str
    revision: str
    digest: str | None
    verified: bool
    signature: SignatureInfo | None = None
    log_index: int | None = None
    checkpoint: dict[str, Any] | None = None
    trust_on_first_use: bool = False
    checks: list[VerifyCheck] = Field(default_factory=list)
    attached_signatures: list[AttachedSignatureSummary] = Field(
        default_factory=list, description="bundles attached to the variant, with their signers"
    )


class TokenRevoked(BaseModel):
    token_id: str
    revoked_at: UtcDatetime | None
