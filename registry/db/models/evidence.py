"""Evidence about variants: evaluation results, advisories, download snapshots, and the
materialised safeguard statuses kept current from them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from registry.db.models.core import timestamp_field


class EvalResult(SQLModel, table=True):
    """One benchmark result of a variant, as recorded by hand or imported from a results file."""

    __tablename__ = "eval_result"
    __table_args__ = (
        Index("ix_eval_result_variant_benchmark", "variant_id", "benchmark"),
        Index("ix_eval_result_variant_source", "variant_id", "source_sha256"),
    )

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
    source_sha256: str | None = Field(
        default=None, max_length=64, description="SHA-256 of the imported results file"
    )
    statement_id: int | None = Field(
        default=None,
        foreign_key="signed_statement.id",
        ondelete="CASCADE",
        description="the evaluator's signed statement, when signed",
    )
    created_at: datetime = timestamp_field()


class Advisory(SQLModel, table=True):
    """A published warning about a variant; it reaches every descendant."""

    id: int | None = Field(default=None, primary_key=True)
    variant_id: int = Field(foreign_key="variant.id", index=True, ondelete="CASCADE")
    severity: str = Field(max_length=16)
    summary: str = Field(sa_type=Text)
    references: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = timestamp_field()


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
    updated_at: datetime = timestamp_field()


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
    queued_at: datetime = timestamp_field()
