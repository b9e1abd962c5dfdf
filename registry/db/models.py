"""SQLModel tables (table=True only). Wire models live in ``schemas``."""

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
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def _timestamp(**kwargs: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=DateTime(timezone=True), **kwargs)


class Namespace(SQLModel, table=True):
    """An owner of variants, as the first half of ``namespace/name`` on the Hub."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=96, unique=True)
    created_at: datetime = _timestamp()


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
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()

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
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()


class ApiToken(SQLModel, table=True):
    """A bearer token, stored as a SHA-256 of the secret; the secret is shown once."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    token_id: str = Field(max_length=32, unique=True)
    secret_sha256: str = Field(max_length=64)
    scope: str = Field(max_length=128)
    created_at: datetime = _timestamp()
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
    created_at: datetime = _timestamp()


class SketchBand(SQLModel, table=True):
    """Banded LSH over sketch codes: variants sharing any band value are candidates."""

    __tablename__ = "sketch_band"
    __table_args__ = (Index("ix_sketch_band_variant", "variant_id"),)

    band: int = Field(primary_key=True)
    value: int = Field(primary_key=True)
    variant_id: int = Field(foreign_key="variant.id", primary_key=True, ondelete="CASCADE")


class SigningKey(SQLModel, table=True):
    """A namespace's public key: publishers sign releases and lineage claims, evaluators
    evaluation results. Revoked keys sign nothing new; what they signed before stays valid."""

    __tablename__ = "signing_key"

    id: int | None = Field(default=None, primary_key=True)
    key_id: str = Field(max_length=64, unique=True, description="hex sha256 of the SPKI DER")
    namespace_id: int = Field(foreign_key="namespace.id", index=True)
    role: str = Field(max_length=16)
    public_key: str = Field(sa_type=Text)
    created_at: datetime = _timestamp()
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
    created_at: datetime = _timestamp()


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
    created_at: datetime = _timestamp()


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
    logged_at: datetime = _timestamp()


class LogNode(SQLModel, table=True):
    """The hash of a complete subtree: leaves [node_index * 2**level, (node_index+1) * 2**level)."""

    __tablename__ = "log_node"

    level: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    node_index: int = Field(
        sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    hash: bytes = Field(sa_type=LargeBinary)


class EvalResult(SQLModel, table=True):
    """One benchmark result of a variant, as recorded by hand or imported from a results file."""

    __tablename__ = "eval_result"
    __table_args__ = (Index("ix_eval_result_variant_benchmark", "variant_id", "benchmark"),)

    id: int | None = Field(default=None, primary_key=True)
    variant_id: int = Field(foreign_key="variant.id", ondelete="CASCADE")
    benchmark: str = Field(max_length=128, description="e.g. harmbench, mmlu")
    benchmark_version: str | None = Field(
        default=None, max_length=64, description="benchmark version or dataset revision"
    )
    task: str | None = Field(default=None, max_length=200)
    metric: str = Field(max_length=128)
    value: float
    stderr: float | None = None
    samples: int | None = None
    higher_is_better: bool = True
    category: str = Field(max_length=32, description="safety-refusal, over-refusal, ...")
    harness: str | None = Field(default=None, max_length=64)
    settings: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    evaluator: str | None = Field(default=None, max_length=200)
    evaluated_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    source: str = Field(max_length=32, description="manual, lm-eval, model-index, ...")
    statement_id: int | None = Field(
        default=None,
        foreign_key="signed_statement.id",
        ondelete="CASCADE",
        description="the evaluator's signed statement, when signed",
    )
    created_at: datetime = _timestamp()


class Advisory(SQLModel, table=True):
    """A published warning about a variant; it reaches every descendant."""

    id: int | None = Field(default=None, primary_key=True)
    variant_id: int = Field(foreign_key="variant.id", index=True, ondelete="CASCADE")
    severity: str = Field(max_length=16)
    summary: str = Field(sa_type=Text)
    references: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _timestamp()


class DownloadSnapshot(SQLModel, table=True):
    """A download count observed for a variant over a window, at a time, from a source."""

    __tablename__ = "download_snapshot"
    __table_args__ = (
        UniqueConstraint(
            "variant_id", "window", "observed_at", "source", name="uq_download_snapshot"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    variant_id: int = Field(foreign_key="variant.id", ondelete="CASCADE")
    window: str = Field(max_length=8, description="30d or all")
    count: int = Field(sa_type=BigInteger)
    observed_at: datetime = Field(sa_type=DateTime(timezone=True))
    source: str = Field(max_length=16, description="manual, hub or ingest")


class SafeguardStatus(SQLModel, table=True):
    """The safeguard status of a variant under a policy, kept current on writes so the
    lacking-safeguards query is an index scan; ``reach`` is its subtree's downloads."""

    __tablename__ = "safeguard_status"
    __table_args__ = (
        Index("ix_safeguard_status_downloads", "downloads", "variant_id"),
        Index("ix_safeguard_status_reach", "reach", "variant_id"),
        Index("ix_safeguard_status_policy", "policy_digest"),
    )

    variant_id: int = Field(
        foreign_key="variant.id",
        primary_key=True,
        ondelete="CASCADE",
        sa_column_kwargs={"autoincrement": False},
    )
    status: str = Field(max_length=16)
    reasons: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    downloads: int = Field(default=0, sa_type=BigInteger)
    reach: int = Field(default=0, sa_type=BigInteger)
    policy_digest: str = Field(max_length=80)
    updated_at: datetime = _timestamp()


class SafeguardDirty(SQLModel, table=True):
    """Variants whose status must be recomputed (with their descendants) before the next read:
    writes that know no policy, such as registrations, only queue here."""

    __tablename__ = "safeguard_dirty"

    variant_id: int = Field(
        foreign_key="variant.id",
        primary_key=True,
        ondelete="CASCADE",
        sa_column_kwargs={"autoincrement": False},
    )
    queued_at: datetime = _timestamp()


class HubRepo(SQLModel, table=True):
    """A repository observed on the Hugging Face Hub, as the variant ``repo_id@main``.

    What the Hub says about it (commit, tags, gated state, licence, the card's declared base
    models) is kept here, apart from the weights: an observed repo is not fingerprinted until
    ``fingerprinted_sha`` is set, and its variant's ``digest`` stays NULL until then.
    """

    __tablename__ = "hub_repo"

    id: int | None = Field(default=None, primary_key=True)
    variant_id: int = Field(foreign_key="variant.id", unique=True, ondelete="CASCADE")
    repo_id: str = Field(max_length=200, unique=True)
    sha: str | None = Field(default=None, max_length=64, description="the commit last recorded")
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    gated: str | None = Field(default=None, max_length=16, description="auto, manual or NULL")
    license: str | None = Field(default=None, max_length=128)
    card: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON), description="base_model, relation, library..."
    )
    last_modified: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    exact_copy_of: int | None = Field(
        default=None,
        foreign_key="variant.id",
        ondelete="SET NULL",
        description="a registered variant whose files it holds byte for byte",
    )
    fingerprinted_sha: str | None = Field(default=None, max_length=64)
    fingerprint_note: str | None = Field(default=None, max_length=500)
    first_seen_at: datetime = _timestamp()
    last_seen_at: datetime = _timestamp()


class HubFile(SQLModel, table=True):
    """A file of an observed Hub repo at its recorded commit; ``sha256`` is its LFS oid."""

    __tablename__ = "hub_file"
    __table_args__ = (
        UniqueConstraint("hub_repo_id", "path", name="uq_hub_file_path"),
        Index("ix_hub_file_sha256", "sha256"),
    )

    id: int | None = Field(default=None, primary_key=True)
    hub_repo_id: int = Field(foreign_key="hub_repo.id", ondelete="CASCADE")
    path: str = Field(max_length=1024)
    size: int | None = Field(default=None, sa_type=BigInteger)
    sha256: str | None = Field(default=None, max_length=64, description="NULL: not in LFS")
    blob_id: str | None = Field(default=None, max_length=64, description="git blob id")


class HubSync(SQLModel, table=True):
    """One sync of a root's descendants; ``hub_sync_item`` is its resumable frontier."""

    __tablename__ = "hub_sync"
    __table_args__ = (Index("ix_hub_sync_root", "root", "endpoint", "finished_at"),)

    id: int | None = Field(default=None, primary_key=True)
    root: str = Field(max_length=200)
    endpoint: str = Field(max_length=500)
    depth: int
    started_at: datetime = _timestamp()
    finished_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class HubSyncItem(SQLModel, table=True):
    """A repo on a sync's frontier: ``done`` once recorded, in the transaction that records it.

    ``listing`` is what the parent's listing said of it, so a resumed sync need not list again.
    """

    __tablename__ = "hub_sync_item"
    __table_args__ = (
        UniqueConstraint("sync_id", "repo_id", name="uq_hub_sync_item_repo"),
        Index("ix_hub_sync_item_pending", "sync_id", "done", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    sync_id: int = Field(foreign_key="hub_sync.id", ondelete="CASCADE")
    repo_id: str = Field(max_length=200)
    depth: int
    done: bool = False
    listing: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))


class DownloadEvent(SQLModel, table=True):
    """One row of a publisher's download log; ``key`` (SHA-256 of the normalised row) makes
    re-ingesting the same log a no-op."""

    __tablename__ = "download_event"
    __table_args__ = (Index("ix_download_event_variant_time", "variant_id", "occurred_at"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, unique=True)
    variant_id: int = Field(foreign_key="variant.id", ondelete="CASCADE")
    occurred_at: datetime = Field(sa_type=DateTime(timezone=True))
    user_hash: str | None = Field(default=None, max_length=128)
    country: str | None = Field(default=None, max_length=8)
    extra: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    ingested_at: datetime = _timestamp()
