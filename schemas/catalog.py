"""Read models of the registry as a whole: its counts, recent registrations, the most-reached
variants lacking safeguards, and the table of every variant with its status and downloads."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, Field

from schemas.evals import SafeguardState

TableSort = Literal["name", "format", "parameters", "status", "downloads", "reach", "registered"]
TABLE_SORTS: tuple[str, ...] = get_args(TableSort)


class RegistryCounts(BaseModel):
    variants: int = Field(description="registered variants (weights known)")
    known_by_name: int = Field(description="variants only named as a parent, weights unknown")
    edges: int = Field(description="lineage edges, declared and detected")
    evaluations: int = Field(description="evaluation results")
    advisories: int


class VariantRow(BaseModel):
    """One variant with its safeguard status and downloads: a row of the variants table."""

    name: str
    revision: str
    digest: str | None
    format: str | None
    parameters: int | None
    registered: bool
    status: SafeguardState | None = Field(description="null until the status is computed")
    downloads: int = Field(description="latest 30d count, else latest all-time count")
    reach: int = Field(description="downloads of the variant and all its descendants")
    created_at: datetime = Field(description="when the registry first knew the name")
    registered_at: datetime | None = Field(
        description="when its weights were registered; null while known by name only"
    )


class RegistryOverview(BaseModel):
    """The registry at a glance: what the explorer's home page shows."""

    counts: RegistryCounts
    recent: list[VariantRow] = Field(description="the latest registrations, newest first")
    lacking: list[VariantRow] = Field(
        description="variants lacking safeguards (lacking, degraded, suspected), most reach first"
    )


class VariantTable(BaseModel):
    """A page of the variants table, sorted and filtered as asked."""

    items: list[VariantRow]
    total: int = Field(description="rows matching the filters, over all pages")
    next_cursor: str | None = None
