"""Variants: the fingerprint a client computes, the registration request, the public view."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from schemas.common import INT64_MAX, Count, Relation, UtcDatetime
from schemas.lineage import LineageEdgePublic
from schemas.trust import AttachedSignatureSummary, SignatureInfo

SHA256_HEX = r"^[0-9a-f]{64}$"
DIGEST = r"^sha256:[0-9a-f]{64}$"


class FileDigest(BaseModel):
    path: str = Field(description="path relative to the model directory, '/'-separated")
    size: int = Field(ge=0, le=INT64_MAX)
    sha256: str = Field(pattern=SHA256_HEX, description="equal to sha256sum and the Hub's LFS oid")


class TensorDigest(BaseModel):
    name: str
    dtype: str
    shape: list[Count]
    digest: str = Field(description="blake3 over dtype, shape and the raw bytes")


#: where clients before the ``card`` field put the card's markers inside ``config``; the server
#: still moves them from there into ``card``
LEGACY_CARD_CONFIG_KEY = "provreg_card"


class CardMarkers(BaseModel):
    """What a model card says that safeguard markers read (``register --card``)."""

    tags: list[str] = Field(default_factory=list, description="the card's metadata tags")
    name: str | None = Field(
        default=None, description="model_name, or the first model-index entry's name"
    )


class WeightsFingerprint(BaseModel):
    """What the client learns from local files; weights themselves never leave the machine."""

    digest: str = Field(pattern=DIGEST, description="depends only on the multiset of tensors")
    format: str
    parameters: int = Field(ge=0, le=INT64_MAX)
    dtypes: list[str] = Field(default_factory=list)
    files: list[FileDigest]
    tensors: list[TensorDigest]
    architecture: str | None = None
    config: dict[str, Any] | None = Field(default=None, description="config.json, when present")
    sketch: str | None = Field(
        default=None, description="similarity sketch, base64; what identify and checks compare"
    )
    adapter: str | None = Field(
        default=None,
        description="adapter sketch, base64, of a PEFT LoRA adapter release: its target modules, "
        "shapes and low-rank delta; checked against the declared base and merged models",
    )


class DeclaredParent(BaseModel):
    name: str = Field(description="NAME[@REVISION] of the parent")
    relation: Relation


class VariantCreate(BaseModel):
    name: str = Field(description="namespace/name, as on the Hugging Face Hub")
    revision: str = "main"
    fingerprint: WeightsFingerprint
    parents: list[DeclaredParent] = Field(default_factory=list)
    card: CardMarkers | None = Field(
        default=None, description="the model card's markers, with `register --card`"
    )
    signed_statement: str | None = Field(
        default=None,
        description="DSSE envelope of the release statement (JSON text, stored byte for byte); "
        "null registers unsigned",
    )


class VariantSummary(BaseModel):
    name: str
    revision: str
    digest: str | None
    format: str | None = None
    parameters: int | None = None
    registered: bool = Field(description="false for a parent known only by name")
    created_at: UtcDatetime | None = None
    status: str | None = Field(
        default=None, description="safeguard status; null for a parent known only by name"
    )
    downloads: int | None = Field(default=None, description="latest 30d (else all-time) count")
    reach: int | None = Field(
        default=None, description="downloads of the variant and all its descendants"
    )


class VariantPublic(BaseModel):
    name: str
    revision: str
    digest: str | None
    format: str | None
    parameters: int | None
    dtypes: list[str] = Field(default_factory=list)
    architecture: str | None = None
    config: dict[str, Any] | None = None
    card: CardMarkers | None = None
    registered: bool
    files: list[FileDigest] = Field(default_factory=list)
    tensor_count: int = 0
    sketch_digest: str | None = Field(
        default=None, description="sha256 of the stored similarity sketch, when there is one"
    )
    adapter_digest: str | None = Field(
        default=None, description="sha256 of the stored adapter sketch, for a PEFT adapter"
    )
    lineage: list[LineageEdgePublic] = Field(
        default_factory=list, description="edges to this variant's parents"
    )
    children: list[LineageEdgePublic] = Field(
        default_factory=list, description="edges from this variant's direct children"
    )
    created: bool | None = Field(
        default=None, description="on register: false when the call changed nothing"
    )
    signature: SignatureInfo | None = Field(
        default=None, description="the signed release statement; null when registered unsigned"
    )
    log_index: int | None = Field(
        default=None, description="transparency-log leaf of the registration"
    )
    attached_signatures: list[AttachedSignatureSummary] = Field(
        default_factory=list,
        description="OpenSSF model-signing bundles attached to it (keyless ones name the signer)",
    )
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None
    note: str | None = Field(default=None, description="how a name without @REV was resolved")


class VariantPage(BaseModel):
    items: list[VariantSummary]
    next_cursor: str | None = None
