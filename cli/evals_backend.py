"""Evaluation, safeguard, advisory and download commands reach the registry here, locally (with
the policy from PROVREG_SAFEGUARD_POLICY) or over HTTP (with the server's policy)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from sqlmodel import Session

from cli.backend import CliState, RemoteBackend
from registry.client import RegistryClient
from registry.config import Settings
from registry.services.advisories import add_advisory, affected
from registry.services.download_logs import ingest_download_log
from registry.services.downloads import downloads_report, record_downloads
from registry.services.evals import (
    add_results,
    add_signed_results,
    import_results,
    list_results,
)
from registry.services.names import VariantRef, parse_ref
from registry.services.safeguard_policy import load_policy
from registry.services.safeguard_query import lacking_safeguards, parse_statuses, safeguard_status
from schemas import (
    AdvisoryAffected,
    AdvisoryCreate,
    AdvisoryPublic,
    DownloadIngest,
    DownloadIngestResult,
    DownloadRecord,
    DownloadSnapshotPublic,
    DownloadsPublic,
    EvalImport,
    EvalImportResult,
    EvalResultEntry,
    EvalResultList,
    EvalResultPublic,
    LackingSafeguardPage,
    SafeguardStatusPublic,
    SignedEvalCreate,
)


class EvalsBackend(Protocol):
    def add_eval(self, ref: VariantRef, body: EvalResultEntry) -> list[EvalResultPublic]: ...
    def add_signed(self, body: SignedEvalCreate) -> list[EvalResultPublic]: ...
    def import_evals(self, ref: VariantRef, body: EvalImport) -> EvalImportResult: ...
    def list_evals(self, ref: VariantRef) -> EvalResultList: ...
    def safeguards(self, ref: VariantRef) -> SafeguardStatusPublic: ...
    def lacking(self, **query: Any) -> LackingSafeguardPage: ...
    def add_advisory(self, body: AdvisoryCreate) -> AdvisoryPublic: ...
    def affected(self, advisory_id: int) -> AdvisoryAffected: ...
    def record_downloads(self, ref: VariantRef, body: DownloadRecord) -> DownloadSnapshotPublic: ...
    def downloads(self, ref: VariantRef, window: str) -> DownloadsPublic: ...
    def ingest_downloads(self, body: DownloadIngest) -> DownloadIngestResult: ...


class LocalEvals:
    def __init__(self, sessions: Callable[[], Session], settings: Settings) -> None:
        self.sessions = sessions
        self.settings = settings

    def add_eval(self, ref: VariantRef, body: EvalResultEntry) -> list[EvalResultPublic]:
        with self.sessions() as s:
            return add_results(s, ref, [body], load_policy(self.settings))

    def add_signed(self, body: SignedEvalCreate) -> list[EvalResultPublic]:
        with self.sessions() as s:
            return add_signed_results(s, body, load_policy(self.settings))

    def import_evals(self, ref: VariantRef, body: EvalImport) -> EvalImportResult:
        with self.sessions() as s:
            return import_results(s, ref, body, load_policy(self.settings))

    def list_evals(self, ref: VariantRef) -> EvalResultList:
        with self.sessions() as s:
            return list_results(s, ref)

    def safeguards(self, ref: VariantRef) -> SafeguardStatusPublic:
        with self.sessions() as s:
            return safeguard_status(s, ref, load_policy(self.settings))

    def lacking(self, **query: Any) -> LackingSafeguardPage:
        root = query.pop("descendant_of", None)
        statuses = parse_statuses(query.pop("status", None))
        with self.sessions() as s:
            return lacking_safeguards(
                s,
                load_policy(self.settings),
                descendant_of=parse_ref(root) if root else None,
                statuses=statuses,
                **query,
            )

    def add_advisory(self, body: AdvisoryCreate) -> AdvisoryPublic:
        with self.sessions() as s:
            return add_advisory(s, body)

    def affected(self, advisory_id: int) -> AdvisoryAffected:
        with self.sessions() as s:
            return affected(s, advisory_id)

    def record_downloads(self, ref: VariantRef, body: DownloadRecord) -> DownloadSnapshotPublic:
        with self.sessions() as s:
            return record_downloads(s, ref, body)

    def downloads(self, ref: VariantRef, window: str) -> DownloadsPublic:
        with self.sessions() as s:
            return downloads_report(s, ref, window=window)

    def ingest_downloads(self, body: DownloadIngest) -> DownloadIngestResult:
        with self.sessions() as s:
            return ingest_download_log(s, body)


class RemoteEvals:
    def __init__(self, client: RegistryClient) -> None:
        self.client = client

    def add_eval(self, ref: VariantRef, body: EvalResultEntry) -> list[EvalResultPublic]:
        return self.client.add_eval(ref.name, ref.revision, body)

    def add_signed(self, body: SignedEvalCreate) -> list[EvalResultPublic]:
        return self.client.add_signed_evals(body)

    def import_evals(self, ref: VariantRef, body: EvalImport) -> EvalImportResult:
        return self.client.import_evals(ref.name, ref.revision, body)

    def list_evals(self, ref: VariantRef) -> EvalResultList:
        return self.client.list_evals(ref.name, ref.revision)

    def safeguards(self, ref: VariantRef) -> SafeguardStatusPublic:
        return self.client.safeguards(ref.name, ref.revision)

    def lacking(self, **query: Any) -> LackingSafeguardPage:
        return self.client.lacking_safeguards(**query)

    def add_advisory(self, body: AdvisoryCreate) -> AdvisoryPublic:
        return self.client.add_advisory(body)

    def affected(self, advisory_id: int) -> AdvisoryAffected:
        return self.client.advisory_affected(advisory_id)

    def record_downloads(self, ref: VariantRef, body: DownloadRecord) -> DownloadSnapshotPublic:
        return self.client.record_downloads(ref.name, ref.revision, body)

    def downloads(self, ref: VariantRef, window: str) -> DownloadsPublic:
        return self.client.downloads(ref.name, ref.revision, window=window)

    def ingest_downloads(self, body: DownloadIngest) -> DownloadIngestResult:
        return self.client.ingest_downloads(body)


def evals_backend(state: CliState) -> EvalsBackend:
    """Remote when the command's backend is remote, else the local database."""
    backend = state.backend()
    if isinstance(backend, RemoteBackend):
        return RemoteEvals(backend.client)
    return LocalEvals(state.local_sessions(), state.settings)
