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
    AdvisoryPage,
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
    EvalResultPage,
    EvalResultPublic,
    IdentifyQuery,
    IdentifyResult,
    InclusionProof,
    KeyCreate,
    KeyPage,
    KeyPublic,
    LackingSafeguardPage,
    LineageClaimCreate,
    LineageGraph,
    LogEntryPublic,
    LogKey,
    RegistryOverview,
    SafeguardStatusPublic,
    SignedEvalCreate,
    StatementPublic,
    TokenCreate,
    TokenPage,
    TokenPublic,
    TokenRevoked,
    TokenSelf,
    VariantCreate,
    VariantOverview,
    VariantPage,
    VariantPublic,
    VariantTable,
)
from schemas.corrections import (
    EvalCorrectionPublic,
    EvalRetract,
    EvalSupersede,
    LineageCorrectionPublic,
    LineageDeclare,
    LineageRetract,
)
from schemas.exports import ExportDocument
from schemas.webhooks import DeliveryList, WebhookCreate, WebhookList, WebhookPublic, WebhookRemoved

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

    def _get(self, path: str, model: type[M], **params: Any) -> M:
        """A read; ``params`` left at None are not sent."""
        return self._request("GET", path, model, params=params)

    def _post(self, path: str, model: type[M], body: BaseModel | None = None, **params: Any) -> M:
        """A write with the token, ``body`` as JSON."""
        json = body.model_dump(mode="json") if body is not None else None
        return self._request("POST", path, model, auth=True, params=params, json=json)

    @staticmethod
    def _at(collection: str, name: str, suffix: str = "") -> str:
        """The path of variant ``name`` (namespace/name, each part quoted) in ``collection``."""
        namespace, _, short = name.partition("/")
        return f"/{collection}/{quote(namespace, safe='')}/{quote(short, safe='')}{suffix}"

    # --- variants, lineage, identification ------------------------------------------------------

    def register(self, request: VariantCreate) -> VariantPublic:
        return self._post("/variants", VariantPublic, request)

    def show(self, name: str, revision: str | None = None) -> VariantPublic:
        return self._get(self._at("variants", name), VariantPublic, revision=revision)

    def list_variants(
        self,
        *,
        limit: int = 50,
        cursor: str | None = None,
        namespace: str | None = None,
        digest: str | None = None,
        name: str | None = None,
        search: str | None = None,
        status: str | None = None,
        sort: str = "registered",
    ) -> VariantPage:
        return self._get(
            "/variants",
            VariantPage,
            limit=limit,
            cursor=cursor or None,
            namespace=namespace or None,
            digest=digest or None,
            name=name or None,
            search=search or None,
            status=status or None,
            sort=sort,
        )

    def variant_overview(self, name: str, revision: str | None = None) -> VariantOverview:
        path = self._at("variants", name, "/overview")
        return self._get(path, VariantOverview, revision=revision)

    def lineage(
        self,
        name: str,
        revision: str | None = None,
        *,
        direction: str = "both",
        depth: int = 10,
        limit: int = 200,
        cursor: str | None = None,
    ) -> LineageGraph:
        return self._get(
            self._at("lineage", name),
            LineageGraph,
            revision=revision,
            direction=direction,
            depth=depth,
            limit=limit,
            cursor=cursor or None,
        )

    def identify(self, query: IdentifyQuery) -> IdentifyResult:
        return self._request(
            "POST", "/identify", IdentifyResult, json=query.model_dump(mode="json")
        )  # a read: no token needed

    # --- the registry as a whole ------------------------------------------------------------------

    def overview(self) -> RegistryOverview:
        return self._get("/overview", RegistryOverview)

    def variant_table(self, **query: Any) -> VariantTable:
        """``q``, ``format``, ``status``, ``registered``, ``sort``, ``order``, ``limit``,
        ``cursor``, as ``GET /v1/variants/table`` takes them; unset ones are not sent."""
        return self._get("/variants/table", VariantTable, **query)

    # --- tokens and keys ------------------------------------------------------------------------

    def create_token(self, request: TokenCreate) -> TokenPublic:
        return self._post("/tokens", TokenPublic, request)

    def revoke_token(self, token_id: str) -> TokenRevoked:
        return self._post(f"/tokens/{quote(token_id, safe='')}/revoke", TokenRevoked)

    def token_self(self, namespace: str | None = None) -> TokenSelf:
        """What this client's token may do (raises TokenMissing/TokenInvalid as a write
        would); with ``namespace``, whether it may publish there."""
        return self._request(
            "GET", "/tokens/self", TokenSelf, auth=True, params={"namespace": namespace}
        )

    def list_tokens(self, *, limit: int = 50, cursor: str | None = None) -> TokenPage:
        params = {"limit": limit, "cursor": cursor or None}
        return self._request("GET", "/tokens", TokenPage, auth=True, params=params)

    def list_keys(
        self, *, namespace: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> KeyPage:
        return self._get(
            "/keys/page", KeyPage, namespace=namespace or None, limit=limit, cursor=cursor or None
        )

    def add_key(self, request: KeyCreate) -> KeyPublic:
        return self._post("/keys", KeyPublic, request)

    def revoke_key(self, key_id: str) -> KeyPublic:
        return self._post(f"/keys/{quote(key_id, safe='')}/revoke", KeyPublic)

    def get_key(self, key_id: str) -> KeyPublic:
        return self._get(f"/keys/{quote(key_id, safe='')}", KeyPublic)

    # --- signatures and the transparency log --------------------------------------------------

    def statement(self, name: str, revision: str | None = None) -> StatementPublic:
        return self._get(
            self._at("variants", name, "/statement"), StatementPublic, revision=revision
        )

    def attach_signature(
        self, name: str, revision: str | None, request: AttachSignature
    ) -> AttachedSignaturePublic:
        path = self._at("variants", name, "/signatures")
        return self._post(path, AttachedSignaturePublic, request, revision=revision)

    def declare_parent(
        self, name: str, revision: str | None, body: LineageDeclare
    ) -> LineageCorrectionPublic:
        path = self._at("lineage", name, "/parents")
        return self._post(path, LineageCorrectionPublic, body, revision=revision)

    def retract_parent(
        self, name: str, revision: str | None, body: LineageRetract
    ) -> LineageCorrectionPublic:
        path = self._at("lineage", name, "/retractions")
        return self._post(path, LineageCorrectionPublic, body, revision=revision)

    def claim_lineage(self, request: LineageClaimCreate) -> StatementPublic:
        return self._post("/lineage/claims", StatementPublic, request)

    def log_key(self) -> LogKey:
        return self._get("/log/key", LogKey)

    def checkpoint(self) -> CheckpointPublic:
        return self._get("/log/checkpoint", CheckpointPublic)

    def inclusion_proof(self, index: int, tree_size: int | None = None) -> InclusionProof:
        return self._get(
            "/log/proof/inclusion", InclusionProof, index=index, tree_size=tree_size or None
        )

    def consistency_proof(self, first: int, second: int | None = None) -> ConsistencyProof:
        return self._get(
            "/log/proof/consistency", ConsistencyProof, first=first, second=second or None
        )

    def log_entry(self, index: int) -> LogEntryPublic:
        return self._get(f"/log/entries/{int(index)}", LogEntryPublic)

    def audit(self) -> AuditReport:
        return self._request("GET", "/log/audit", AuditReport, auth=True)

    # --- evaluations, safeguards, advisories, downloads ---------------------------------------

    def add_eval(
        self, name: str, revision: str | None, body: EvalResultEntry
    ) -> list[EvalResultPublic]:
        return self._post(self._at("evals", name), _EvalResults, body, revision=revision).root

    def add_signed_evals(self, body: SignedEvalCreate) -> list[EvalResultPublic]:
        return self._post("/evals/signed", _EvalResults, body).root

    def import_evals(self, name: str, revision: str | None, body: EvalImport) -> EvalImportResult:
        path = self._at("evals", name, "/import")
        return self._post(path, EvalImportResult, body, revision=revision)

    def retract_eval(self, result_id: int, body: EvalRetract) -> EvalCorrectionPublic:
        path = f"/evals/results/{int(result_id)}/retract"
        return self._post(path, EvalCorrectionPublic, body)

    def supersede_eval(self, result_id: int, body: EvalSupersede) -> EvalCorrectionPublic:
        path = f"/evals/results/{int(result_id)}/supersede"
        return self._post(path, EvalCorrectionPublic, body)

    def list_evals(self, name: str, revision: str | None = None) -> EvalResultList:
        return self._get(self._at("evals", name), EvalResultList, revision=revision)

    def list_all_evals(self, *, limit: int = 50, cursor: str | None = None) -> EvalResultPage:
        return self._get("/evals", EvalResultPage, limit=limit, cursor=cursor or None)

    def safeguards(self, name: str, revision: str | None = None) -> SafeguardStatusPublic:
        return self._get(self._at("safeguards", name), SafeguardStatusPublic, revision=revision)

    def lacking_safeguards(self, **query: Any) -> LackingSafeguardPage:
        params = {k: v for k, v in query.items() if v not in (None, "", 0)}
        return self._get("/safeguards/lacking", LackingSafeguardPage, **params)

    def add_advisory(self, body: AdvisoryCreate) -> AdvisoryPublic:
        return self._post("/advisories", AdvisoryPublic, body)

    def list_advisories(self, *, limit: int = 50, cursor: str | None = None) -> AdvisoryPage:
        return self._get("/advisories", AdvisoryPage, limit=limit, cursor=cursor or None)

    def advisory_affected(self, advisory_id: int) -> AdvisoryAffected:
        return self._get(f"/advisories/{int(advisory_id)}/affected", AdvisoryAffected)

    def record_downloads(
        self, name: str, revision: str | None, body: DownloadRecord
    ) -> DownloadSnapshotPublic:
        path = self._at("downloads", name)
        return self._post(path, DownloadSnapshotPublic, body, revision=revision)

    def downloads(self, name: str, revision: str | None, *, window: str = "30d") -> DownloadsPublic:
        path = self._at("downloads", name)
        return self._get(path, DownloadsPublic, revision=revision, window=window)

    def ingest_downloads(self, body: DownloadIngest) -> DownloadIngestResult:
        return self._post("/downloads/ingest", DownloadIngestResult, body)

    # --- exports, webhooks ---------------------------------------------------------------------

    def export(
        self, name: str, revision: str = "main", *, format: str = "cyclonedx"
    ) -> dict[str, Any]:
        path = self._at("variants", name, "/export")
        return self._get(path, ExportDocument, revision=revision, format=format).root

    def add_webhook(self, body: WebhookCreate) -> WebhookPublic:
        return self._post("/webhooks", WebhookPublic, body)

    def list_webhooks(self) -> WebhookList:
        return self._request("GET", "/webhooks", WebhookList, auth=True)

    def remove_webhook(self, webhook_id: int) -> WebhookRemoved:
        return self._request("DELETE", f"/webhooks/{int(webhook_id)}", WebhookRemoved, auth=True)

    def webhook_deliveries(
        self, webhook_id: int | None = None, *, limit: int = 100
    ) -> DeliveryList:
        params = {"webhook_id": webhook_id, "limit": limit}
        return self._request("GET", "/webhooks/deliveries", DeliveryList, auth=True, params=params)


class _EvalResults(RootModel[list[EvalResultPublic]]):
    pass
