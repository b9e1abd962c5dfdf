"""Hub sync reports, download series and reach, and publisher download logs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from schemas.evals import DownloadWindow


class HubSyncResult(BaseModel):
    """What one `hub sync` of a root did."""

    root: str
    endpoint: str
    sync_id: int
    depth: int
    resumed: bool = Field(description="an interrupted sync of this root was continued")
    started_at: datetime
    finished_at: datetime | None
    repos: int = Field(description="repos recorded by this sync, including before a resume")
    recorded_now: int = Field(description="repos recorded by this run")
    new: int
    changed: int = Field(description="repos at a new commit since the last sync")
    unchanged: int
    declared_edges: int
    exact_copies: int = Field(description="repos holding a registered variant's exact files")
    evaluations: int
    snapshots: int
    retries: int = Field(description="Hub requests retried after 429, 5xx or a lost connection")
    fingerprinted: int = 0
    verified_edges: int = 0
    disputed_edges: int = 0
    detected_edges: int = 0
    notes: list[str] = Field(default_factory=list)


class DownloadPoint(BaseModel):
    window: DownloadWindow
    count: int
    observed_at: datetime
    source: str


class DownloadGrowth(BaseModel):
    """How far the all-time counter (else the 30-day one) moved over ``window``."""

    window: str
    counter: DownloadWindow | None
    start: DownloadPoint | None
    end: DownloadPoint | None
    change: int | None
    ratio: float | None = Field(description="end / start; None when start is 0 or missing")


class DownloadReach(BaseModel):
    own: int = Field(description="latest 30d count (else latest all-time)")
    own_all_time: int | None
    subtree: int = Field(description="own plus every descendant's, each counted once")
    subtree_all_time: int
    descendants: int


class DownloadsPublic(BaseModel):
    name: str
    revision: str
    series: list[DownloadPoint]
    reach: DownloadReach
    growth: DownloadGrowth
    hub: dict[str, object] | None = Field(
        default=None, description="what the Hub said of it when last synced"
    )


class DownloadIngest(BaseModel):
    """A publisher's download log: CSV with a header naming at least timestamp and repo."""

    content: str = Field(max_length=200 * 1024 * 1024)
    filename: str | None = None


class IngestedVariant(BaseModel):
    name: str
    revision: str
    events: int = Field(description="events of this variant stored, all ingests together")
    users: int = Field(description="distinct hashed user ids among them")
    count_30d: int
    observed_at: datetime


class DownloadIngestResult(BaseModel):
    rows: int
    new_events: int
    duplicates: int
    variants: list[IngestedVariant]


class HubJobCounts(BaseModel):
    queued: int = 0
    running: int = 0
    done: int = 0
    failed: int = 0


class HubJobsReport(BaseModel):
    """Fingerprint jobs by state, and the latest failures."""

    counts: HubJobCounts
    failed: list[dict[str, Any]] = Field(default_factory=list)
    broker: str | None = Field(default=None, description="the broker, without credentials")


class HubScanMatch(BaseModel):
    """A lineage edge the scan's repos now have: an exact copy, or what fingerprinting found."""

    repo: str
    parent: str
    relation: str
    source: str
    status: str
    score: float | None = None
    why: str


class HubScanFinding(BaseModel):
    repo: str
    outcome: str = Field(description="examined, copy, skipped or known")
    reason: str
    copy_of: str | None = Field(default=None, description="for a copy: the variant it copies")


class HubScanResult(BaseModel):
    """What one `hub scan` of a root did."""

    root: str
    endpoint: str
    listed: int = Field(description="repos the listing gave")
    examined: int = Field(description="repos whose size and architecture could be the family's")
    exact_copies: int
    skipped: int
    already_known: int
    findings: list[HubScanFinding]
    jobs: HubJobCounts | None = Field(
        default=None, description="with --fingerprint: the scan's fingerprint jobs by state"
    )
    matches: list[HubScanMatch] = Field(default_factory=list)

    def recorded_repos(self) -> list[str]:
        """The repos the scan recorded (examined, copies included): what it matched."""
        return [f.repo for f in self.findings if f.outcome in ("examined", "copy")]


class HubWatchResult(BaseModel):
    iterations: int
    syncs: list[HubSyncResult]
    scans: list[HubScanResult] = Field(
        default_factory=list, description="with --scan: each root's scan, after its sync"
    )
