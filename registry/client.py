"""A requests-based client for provreg's HTTP API.

Speaks the wire models in ``schemas`` and turns every error response back into the registry
exception with the same ``code``, so callers handle local and remote failures alike.
"""

from __future__ import annotations

from typing import Any, TypeVar
from urllib.parse import quote

import requests
from pydantic import BaseModel, RootModel

from registry.errors import ProvregError, ServerUnreachable, from_wire
from schemas import (
    AdvisoryAffected,
    AdvisoryCreate,
    AdvisoryPublic,
    AttachedSignaturePublic,
    AttachSignature,
    AuditReport,
    CheckpointPublic,
    ConsistencyProof,
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
    IdentifyQuery,
    IdentifyResult,
    InclusionProof,
    KeyCreate,
    KeyPublic,
    LackingSafeguardPage,
    LineageClaimCreate,
    LineageGraph,
    LogEntryPublic,
    LogKey,
    SafeguardStatusPublic,
    SignedEvalCreate,
    StatementPublic,
    TokenCreate,
    TokenPublic,
    TokenRevoked,
    VariantCreate,
    VariantPage,
    VariantPublic,
)

M = TypeVar("M", bound=BaseModel)
DEFAULT_TIMEOUT = 60.0


class RegistryClient:
    """Talks to a provreg server at ``base_url``; ``token`` is sent on writes."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        http: requests.Session | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.http = http or requests.Session()
        self.timeout = timeout

    def _request(
        self, method: str, path: str, model: type[M], *, auth: bool = False, **kwargs: Any
    ) -> M:
        headers = {"Accept": "application/json"}
        if auth and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        url = f"{self.base_url}/v1{path}"
        try:
            response = self.http.request(
                method, url, headers=headers, timeout=self.timeout, **kwargs
            )
        except requests.RequestException as exc:
            raise ServerUnreachable(
                f"cannot reach the provreg server at {self.base_url}: {type(exc).__name__}",
                hint="check PROVREG_URL and that `provreg serve` is running",
            ) from None
        if response.status_code >= 400:
            try:
                payload = response.json()
            except ValueError:
                payload = {}
            raise from_wire(payload, response.status_code)
        try:
            return model.model_validate(response.json())
        except ValueError as exc:
            raise ProvregError(
                f"the server at {self.base_url} sent an answer provreg cannot read",
                hint="is PROVREG_URL a provreg server of a compatible version?",
            ) from exc

    @staticmethod
    def _split(name: str) -> str:
        namespace, _, short = name.partition("/")
        return f"{quote(namespace, safe='')}/{quote(short, safe='')}"

    def register(self, request: VariantCreate) -> VariantPublic:
        return self._request(
            "POST", "/variants", VariantPublic, auth=True, json=request.model_dump(mode="json")
        )

    def show(self, name: str, revision: str = "main") -> VariantPublic:
        return self._request(
            "GET", f"/variants/{self._split(name)}", VariantPublic, params={"revision": revision}
        )

    def list_variants(
        self,
        *,
        limit: int = 50,
        cursor: str | None = None,
        namespace: str | None = None,
        digest: str | None = None,
    ) -> VariantPage:
        params = {"limit": limit, "cursor": cursor, "namespace": namespace, "digest": digest}
        return self._request(
            "GET", "/variants", VariantPage, params={k: v for k, v in params.items() if v}
        )

    def lineage(
        self,
        name: str,
        revision: str = "main",
        *,
        direction: str = "both",
        depth: int = 10,
        limit: int = 200,
        cursor: str | None = None,
    ) -> LineageGraph:
        params: dict[str, Any] = {
            "revision": revision,
            "direction": direction,
            "depth": depth,
            "limit": limit,
        }
        if cursor:
            params["cursor"] = cursor
        return self._request("GET", f"/lineage/{self._split(name)}", LineageGraph, params=params)

    def identify(self, query: IdentifyQuery) -> IdentifyResult:
        return self._request(
            "POST", "/identify", IdentifyResult, json=query.model_dump(mode="json")
        )

    def create_token(self, request: TokenCreate) -> TokenPublic:
        return self._request(
            "POST", "/tokens", TokenPublic, auth=True, json=request.model_dump(mode="json")
        )

    def revoke_token(self, token_id: str) -> TokenRevoked:
        return self._request(
            "POST", f"/tokens/{quote(token_id, safe='')}/revoke", TokenRevoked, auth=True
        )

    # --- trust: keys, signatures, the transparency log -----------------------------------------

    def add_key(self, request: KeyCreate) -> KeyPublic:
        return self._request(
            "POST", "/keys", KeyPublic, auth=True, json=request.model_dump(mode="json")
        )

    def revoke_key(self, key_id: str) -> KeyPublic:
        return self._request("POST", f"/keys/{quote(key_id, safe='')}/revoke", KeyPublic, auth=True)

    def get_key(self, key_id: str) -> KeyPublic:
        return self._request("GET", f"/keys/{quote(key_id, safe='')}", KeyPublic)

    def statement(self, name: str, revision: str = "main") -> StatementPublic:
        return self._request(
            "GET",
            f"/variants/{self._split(name)}/statement",
            StatementPublic,
            params={"revision": revision},
        )

    def attach_signature(
        self, name: str, revision: str, request: AttachSignature
    ) -> AttachedSignaturePublic:
        return self._request(
            "POST",
            f"/variants/{self._split(name)}/signatures",
            AttachedSignaturePublic,
            auth=True,
            params={"revision": revision},
            json=request.model_dump(mode="json"),
        )

    def claim_lineage(self, request: LineageClaimCreate) -> StatementPublic:
        return self._request(
            "POST", "/lineage/claims", StatementPublic, auth=True, json=request.model_dump()
        )

    def log_key(self) -> LogKey:
        return self._request("GET", "/log/key", LogKey)

    def checkpoint(self) -> CheckpointPublic:
        return self._request("GET", "/log/checkpoint", CheckpointPublic)

    def inclusion_proof(self, index: int, tree_size: int | None = None) -> InclusionProof:
        params = {"index": index, **({"tree_size": tree_size} if tree_size else {})}
        return self._request("GET", "/log/proof/inclusion", InclusionProof, params=params)

    def consistency_proof(self, first: int, second: int | None = None) -> ConsistencyProof:
        params = {"first": first, **({"second": second} if second else {})}
        return self._request("GET", "/log/proof/consistency", ConsistencyProof, params=params)

    def log_entry(self, index: int) -> LogEntryPublic:
        return self._request("GET", f"/log/entries/{int(index)}", LogEntryPublic)

    def audit(self) -> AuditReport:
        return self._request("GET", "/log/audit", AuditReport, auth=True)

    # --- evaluations, safeguards, advisories, downloads ---------------------------------------

    def add_eval(self, name: str, revision: str, body: EvalResultEntry) -> list[EvalResultPublic]:
        response = self._request(
            "POST",
            f"/evals/{self._split(name)}",
            _EvalResults,
            auth=True,
            params={"revision": revision},
            json=body.model_dump(mode="json"),
        )
        return response.root

    def add_signed_evals(self, body: SignedEvalCreate) -> list[EvalResultPublic]:
        response = self._request(
            "POST", "/evals/signed", _EvalResults, auth=True, json=body.model_dump(mode="json")
        )
        return response.root

    def import_evals(self, name: str, revision: str, body: EvalImport) -> EvalImportResult:
        return self._request(
            "POST",
            f"/evals/{self._split(name)}/import",
            EvalImportResult,
            auth=True,
            params={"revision": revision},
            json=body.model_dump(mode="json"),
        )

    def list_evals(self, name: str, revision: str = "main") -> EvalResultList:
        return self._request(
            "GET", f"/evals/{self._split(name)}", EvalResultList, params={"revision": revision}
        )

    def safeguards(self, name: str, revision: str = "main") -> SafeguardStatusPublic:
        return self._request(
            "GET",
            f"/safeguards/{self._split(name)}",
            SafeguardStatusPublic,
            params={"revision": revision},
        )

    def lacking_safeguards(self, **query: Any) -> LackingSafeguardPage:
        params = {k: v for k, v in query.items() if v not in (None, "", 0)}
        return self._request("GET", "/safeguards/lacking", LackingSafeguardPage, params=params)

    def add_advisory(self, body: AdvisoryCreate) -> AdvisoryPublic:
        return self._request(
            "POST", "/advisories", AdvisoryPublic, auth=True, json=body.model_dump(mode="json")
        )

    def advisory_affected(self, advisory_id: int) -> AdvisoryAffected:
        return self._request("GET", f"/advisories/{int(advisory_id)}/affected", AdvisoryAffected)

    def record_downloads(
        self, name: str, revision: str, body: DownloadRecord
    ) -> DownloadSnapshotPublic:
        return self._request(
            "POST",
            f"/downloads/{self._split(name)}",
            DownloadSnapshotPublic,
            auth=True,
            params={"revision": revision},
            json=body.model_dump(mode="json"),
        )

    def downloads(self, name: str, revision: str, *, window: str = "30d") -> DownloadsPublic:
        return self._request(
            "GET",
            f"/downloads/{self._split(name)}",
            DownloadsPublic,
            params={"revision": revision, "window": window},
        )

    def ingest_downloads(self, body: DownloadIngest) -> DownloadIngestResult:
        return self._request(
            "POST",
            "/downloads/ingest",
            DownloadIngestResult,
            auth=True,
            json=body.model_dump(mode="json"),
        )


class _EvalResults(RootModel[list[EvalResultPublic]]):
    pass
