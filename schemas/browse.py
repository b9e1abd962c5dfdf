"""Read models behind the explorer: name search, statuses in bulk, a variant's download series,
the advisories that reach it and its signatures. Public reads like any other; scripts may use
them too."""

from __future__ import annotations

from pydantic import BaseModel, Field

from schemas.evals import AdvisoryPublic, SafeguardState, Severity
from schemas.trust import AttachedSignatureSummary, SignatureInfo


class VariantMatch(BaseModel):
    name: str
    revision: str
    digest: str | None
    format: str | None = None
    registered: bool


class VariantSearchResult(BaseModel):
    """Variants whose name contains the query, best match first (the whole name, then a
    prefix of the name or of its part after the namespace, then anywhere)."""

    query: str
    items: list[VariantMatch]


class SafeguardSummary(BaseModel):
    name: str
    revision: str
    status: SafeguardState
    reasons: list[str]
    downloads: int = Field(description="latest 30d count, else latest all-time count")
    reach: int = Field(description="downloads of the variant and all its descendants, once each")
    advisories: int = Field(default=0, description="advisories published against this variant")
    advisory_severity: Severity | None = Field(
        default=None, description="the highest severity among them"
    )


class SafeguardSummaryList(BaseModel):
    items: list[SafeguardSummary]
    missing: list[str] = Field(
        default_factory=list, description="NAME@REV asked for that are not in the registry"
    )


class AdvisoryReach(BaseModel):
    advisory: AdvisoryPublic
    via: list[str] = Field(description="NAME@REV from the advised variant down to this one")


class VariantAdvisories(BaseModel):
    """Advisories published against the variant or any of its ancestors, newest first."""

    name: str
    revision: str
    advisories: list[AdvisoryReach]


class VariantSignatures(BaseModel):
    """The release statement's signature and the attached bundles, with their log leaves."""

    name: str
    revision: str
    registration_log_index: int | None = Field(
        description="transparency-log leaf of the registration"
    )
    release: SignatureInfo | None = Field(description="null when registered unsigned")
    attached: list[AttachedSignatureSummary]
