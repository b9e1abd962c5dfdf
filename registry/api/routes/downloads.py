"""Download counts: a variant's series and reach, snapshots by hand, publishers' logs."""

from __future__ import annotations

from fastapi import APIRouter, status

from registry.api.deps import ERRORS, PublisherToken, SessionDep, variant_ref
from registry.services.downloads.logs import ingest_download_log
from registry.services.downloads.report import downloads_report, record_downloads
from schemas.evals import DownloadRecord, DownloadSnapshotPublic
from schemas.hub import DownloadIngest, DownloadIngestResult, DownloadsPublic

router = APIRouter()


@router.get(
    "/downloads/{namespace}/{name}",
    response_model=DownloadsPublic,
    responses=ERRORS,
    tags=["downloads"],
)
def downloads(
    namespace: str, name: str, session: SessionDep, revision: str | None = None, window: str = "30d"
) -> DownloadsPublic:
    """A variant's download snapshots (oldest first), its reach (own and its whole subtree's,
    each descendant once) and the growth of its counter over ``window`` (e.g. 30d, 4w)."""
    return downloads_report(session, variant_ref(namespace, name, revision), window=window)


@router.post(
    "/downloads/{namespace}/{name}",
    response_model=DownloadSnapshotPublic,
    status_code=status.HTTP_201_CREATED,
    responses=ERRORS,
    tags=["evaluations"],
)
def downloads_record(
    namespace: str,
    name: str,
    body: DownloadRecord,
    session: SessionDep,
    token: PublisherToken,
    revision: str | None = None,
) -> DownloadSnapshotPublic:
    """Store a download count snapshot (scope admin or publish:<namespace>)."""
    return record_downloads(session, variant_ref(namespace, name, revision), body)


@router.post(
    "/downloads/ingest", response_model=DownloadIngestResult, responses=ERRORS, tags=["downloads"]
)
def ingest(
    body: DownloadIngest, session: SessionDep, token: PublisherToken
) -> DownloadIngestResult:
    """Ingest a publisher's download log (CSV); scope admin, or publish:<namespace> for a log
    naming only that namespace's variants. Idempotent: a log ingested again adds nothing."""
    namespaces = None if token.scope == "admin" else {token.scope.removeprefix("publish:")}
    return ingest_download_log(session, body, namespaces=namespaces)
