"""The registry's spine: namespaces, variants with their files, tensors and sketches, lineage
edges, API tokens."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    LargeBinary,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def timestamp_field(**kwargs: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=DateTime(timezone=True), **kwargs)


class Namespace(SQLModel, table=True):
    """An owner of variants, as the first half of ``namespace/name`` on the Hub."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=96, unique=True)
    created_at: datetime = timestamp_field()


class Variant(SQLModel, table=True):
    """One concrete set of weights, ``name@revision``.

    A parent named by a declaration before its weights are registered is kept as a row with
    ``digest`` NULL (``registered`` false); registering it later fills the row in.
    """

    __table_args__ = (
        UniqueConstraint("name", "revision", name="uq_variant_name_revision"),
        Index("ix_variant_digest", "digest"),
    )

    id: int | None = Field(default=None, primary_key=True)
    namespace_id: int = Field(foreign_key="namespace.id", index=True)
    name: str = Field(max_length=200, description="namespace/name")
    revision: str = Field(max_length=200)
    digest: str | None = Field(default=None, max_length=80)
    format: str | None = Field(default=None, max_length=32)
    dtypes: list[str] | None = Field(default=None, sa_column=Column(JSON))
    parameters: int | None = Field(default=None, sa_type=BigInteger)
    total_size: int | None = Field(default=None, sa_type=BigInteger)
    architecture: str | None = Field(default=None, max_length=200)
    config: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    card_markers: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.revision}"


class VariantFile(SQLModel, table=True):
    """A file of a variant with its SHA-256 (the Hub's LFS oid)."""

    __tablename__ = "variant_file"
    __table_args__ = (UniqueConstraint("variant_id", "path", name="uq_variant_file_path"),)

    id: int | None = Field(default=None, primary_key=True)
    variant_id: int = Field(foreign_key="variant.id", ondelete="CASCADE")
    path: str = Field(max_length=1024)
    size: int = Field(sa_type=BigInteger)
    sha256: str = Field(max_length=64, index=True)


class Tensor(SQLModel, table=True):
    """A tensor of a variant: name, dtype, shape and a digest of its values."""

    __table_args__ = (
        Index("ix_tensor_variant_id", "variant_id"),
        Index("ix_tensor_digest", "digest"),
    )

    id: int | None = Field(default=None, primary_key=True)
    variant_id: int = Field(foreign_key="variant.id", ondelete="CASCADE")
    name: str = Field(max_length=512)
    dtype: str = Field(max_length=16)
    shape: list[int] = Field(sa_column=Column(JSON, nullable=False))
    digest: str = Field(max_length=80)


class LineageEdge(SQLModel, table=True):
    """child descends from parent by ``relation``; declared by someone or detected in weights."""

    __tablename__ = "lineage_edge"
    __table_args__ = (
        UniqueConstraint("child_id", "parent_id", name="uq_lineage_edge_child_parent"),
        Index("ix_lineage_edge_parent_child", "parent_id", "child_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    child_id: int = Field(foreign_key="variant.id", ondelete="CASCADE")
    parent_id: int = Field(foreign_key="variant.id", ondelete="CASCADE")
    relation: str = Field(max_length=16)
    source: str = Field(max_length=16)
    status: str = Field(max_length=16)
    score: float | None = None
    evidence: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class ApiToken(SQLModel, table=True):
    """A bearer token, stored as a SHA-256 of the secret; the secret is shown once."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    token_id: str = Field(max_length=32, unique=True)
    secret_sha256: str = Field(max_length=64)
    scope: str = Field(max_length=128)
    created_at: datetime = timestamp_field()
    expires_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class VariantSketch(SQLModel, table=True):
    """A variant's similarity sketch, stored whole, with its retrieval code beside it."""

    __tablename__ = "variant_sketch"

    variant_id: int = Field(foreign_key="variant.id", primary_key=True, ondelete="CASCADE")
    version: int
    digest: str = Field(max_length=80, description="sha256 of the stored bytes")
    code: str = Field(max_length=64, description="SimHash of the anchor Gram, hex")
    residual: int
    vocab: int
    data: bytes = Field(sa_type=LargeBinary)
    created_at: datetime = timestamp_field()


class VariantAdapter(SQLModel, table=True):
    """A PEFT adapter release's sketch: its target modules, shapes and low-rank delta."""

    __tablename__ = "variant_adapter"

    variant_id: int = Field(foreign_key="variant.id", primary_key=True, ondelete="CASCADE")
    version: int
    digest: str = Field(max_length=80, description="sha256 of the stored bytes")
    targets: int
    rank: int = Field(description="the largest rank among the target modules")
    data: bytes = Field(sa_type=LargeBinary)
    created_at: datetime = timestamp_field()


class SketchBand(SQLModel, table=True):
    """Banded LSH over sketch codes: variants sharing any band value are candidates."""

    __tablename__ = "sketch_band"
    __table_args__ = (Index("ix_sketch_band_variant", "variant_id"),)

    band: int = Field(primary_key=True)
    value: int = Field(primary_key=True)
    variant_id: int = Field(foreign_key="variant.id", primary_key=True, ondelete="CASCADE")
