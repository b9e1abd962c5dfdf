"""Trust tables: signing keys, signed statements kept byte for byte, attached bundles, and the
transparency log's leaves and subtree hashes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Index,
    LargeBinary,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from registry.db.models.core import timestamp_field


class SigningKey(SQLModel, table=True):
    """A namespace's public key: publishers sign releases and lineage claims, evaluators
    evaluation results. Revoked keys sign nothing new; what they signed before stays valid."""

    __tablename__ = "signing_key"

    id: int | None = Field(default=None, primary_key=True)
    key_id: str = Field(max_length=64, unique=True, description="hex sha256 of the SPKI DER")
    namespace_id: int = Field(foreign_key="namespace.id", index=True)
    role: str = Field(max_length=16)
    public_key: str = Field(sa_type=Text)
    created_at: datetime = timestamp_field()
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class SignedStatement(SQLModel, table=True):
    """A DSSE envelope exactly as signed, beside the columns pulled out of it."""

    __tablename__ = "signed_statement"
    __table_args__ = (Index("ix_signed_statement_variant", "variant_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16, description="release, lineage or evaluation")
    predicate_type: str = Field(max_length=128)
    key_id: str = Field(max_length=64)
    variant_id: int | None = Field(default=None, foreign_key="variant.id", ondelete="CASCADE")
    edge_id: int | None = Field(default=None, foreign_key="lineage_edge.id", ondelete="CASCADE")
    payload_sha256: str = Field(max_length=80, unique=True, description="a statement is used once")
    envelope: bytes = Field(sa_type=LargeBinary)
    created_at: datetime = timestamp_field()


class AttachedSignature(SQLModel, table=True):
    """An OpenSSF model-signing bundle attached to a variant, stored byte for byte."""

    __tablename__ = "attached_signature"
    __table_args__ = (
        UniqueConstraint("variant_id", "bundle_sha256", name="uq_attached_signature_bundle"),
    )

    id: int | None = Field(default=None, primary_key=True)
    variant_id: int = Field(foreign_key="variant.id", ondelete="CASCADE")
    kind: str = Field(max_length=32)
    key_id: str = Field(max_length=64)
    public_key: str = Field(sa_type=Text)
    bundle: bytes = Field(sa_type=LargeBinary)
    bundle_sha256: str = Field(max_length=80)
    # keyless (Sigstore) bundles: the signer the certificate named, checked against an identity
    # policy and the trust root with this digest; null for bundles signed with a key
    signer_identity: str | None = Field(default=None, sa_type=Text)
    signer_issuer: str | None = Field(default=None, sa_type=Text)
    trust_root_sha256: str | None = Field(default=None, max_length=80)
    created_at: datetime = timestamp_field()


class LogLeaf(SQLModel, table=True):
    """One transparency-log entry: the canonical JSON of an accepted event and its leaf hash."""

    __tablename__ = "log_leaf"
    __table_args__ = (Index("ix_log_leaf_record", "kind", "record_id"),)

    leaf_index: int = Field(
        sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    kind: str = Field(max_length=32)
    record_id: int = Field(sa_type=BigInteger)
    data: bytes = Field(sa_type=LargeBinary)
    leaf_hash: bytes = Field(sa_type=LargeBinary)
    logged_at: datetime = timestamp_field()


class LogNode(SQLModel, table=True):
    """The hash of a complete subtree: leaves [node_index * 2**level, (node_index+1) * 2**level)."""

    __tablename__ = "log_node"

    level: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    node_index: int = Field(
        sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    hash: bytes = Field(sa_type=LargeBinary)
