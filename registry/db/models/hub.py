"""What a Hub sync observes: repos, their files, the resumable sync frontier, and publishers'
download log events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from registry.db.models.core import timestamp_field


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
    first_seen_at: datetime = timestamp_field()
    last_seen_at: datetime = timestamp_field()


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
    started_at: datetime = timestamp_field()
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
    ingested_at: datetime = timestamp_field()


class FingerprintJob(SQLModel, table=True):
    """Fingerprinting one Hub repo at one commit, done by a worker (or in process).

    One row per (repo, commit): enqueuing the same work again finds it, and a worker that finds
    it ``done`` does nothing, so a redelivered message (a worker killed mid-job) records nothing
    twice. ``state``: queued, running, done or failed; ``attempts`` counts the starts.
    """

    __tablename__ = "fingerprint_job"
    __table_args__ = (
        UniqueConstraint("repo_id", "commit", name="uq_fingerprint_job_commit"),
        Index("ix_fingerprint_job_state", "state", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    repo_id: str = Field(max_length=200)
    commit: str = Field(max_length=64)
    endpoint: str = Field(max_length=500)
    state: str = Field(default="queued", max_length=16)
    attempts: int = 0
    worker: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=500)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
