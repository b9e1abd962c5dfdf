"""Reading the Hugging Face Hub through ``huggingface_hub``, patiently.

:class:`HubReader` lists a repo's children by ``base_model`` tag, reads one repo's facts (with
the LFS SHA-256 of every file) and downloads single files. Every call is retried on 429 (after
``Retry-After``), 5xx and lost connections with bounded exponential backoff; what it returns
are plain :class:`RepoFacts`, JSON-able, so a sync can keep them on its frontier.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx2
from huggingface_hub import HfApi, get_session, hf_hub_download, hf_hub_url
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError
from huggingface_hub.hf_api import ModelInfo
from huggingface_hub.utils import build_hf_headers, hf_raise_for_status

from registry.config import Settings
from registry.errors import HubRepoNotFound, HubUnavailable

HUB_RELATIONS = ("adapter", "finetune", "merge", "quantized")
LISTING_EXPAND = [
    "sha",
    "tags",
    "gated",
    "cardData",
    "downloads",
    "downloadsAllTime",
    "lastModified",
    "evalResults",
    "childrenModelCount",
]
# What a scan lists: enough to judge a repo's size and architecture without a request more
SCAN_EXPAND = [*LISTING_EXPAND, "safetensors", "gguf", "config", "library_name"]
T = TypeVar("T")


@dataclass
class Candidate:
    """A repo from the listing, with the size and architecture the Hub derived from it."""

    facts: RepoFacts
    parameters: int | None
    architecture: str | None


def candidate_of(info: ModelInfo) -> Candidate:
    """Parameters from the safetensors headers (else the GGUF's); the architecture from the
    config's ``architectures`` or ``model_type`` (else the GGUF's)."""
    st = getattr(info, "safetensors", None)
    gguf_facts = getattr(info, "gguf", None) or {}
    config = getattr(info, "config", None) or {}
    parameters = getattr(st, "total", None) if st is not None else None
    if not parameters and isinstance(gguf_facts, dict):
        parameters = gguf_facts.get("total")
    archs = config.get("architectures") if isinstance(config, dict) else None
    architecture = archs[0] if isinstance(archs, list) and archs else None
    if architecture is None and isinstance(config, dict):
        architecture = config.get("model_type")
    if architecture is None and isinstance(gguf_facts, dict):
        architecture = gguf_facts.get("architecture")
    return Candidate(
        facts_of(info),
        int(parameters) if isinstance(parameters, int) and parameters > 0 else None,
        str(architecture) if architecture else None,
    )


@dataclass
class RepoFile:
    path: str
    size: int | None
    sha256: str | None  # the LFS oid; None for a small git file
    blob_id: str | None


@dataclass
class RepoFacts:
    """What the Hub says of one repo at one commit."""

    repo_id: str
    sha: str | None
    tags: list[str] = field(default_factory=list)
    gated: str | None = None
    card: dict[str, Any] = field(default_factory=dict)
    downloads: int | None = None
    downloads_all_time: int | None = None
    last_modified: str | None = None
    eval_results: list[dict[str, Any]] | None = None
    children: int | None = None
    files: list[RepoFile] | None = None  # only from :meth:`HubReader.info`

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc.pop("files")
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> RepoFacts:
        return cls(**{k: v for k, v in doc.items() if k != "files"})

    @property
    def license(self) -> str | None:
        value = self.card.get("license")
        if value is None:
            value = next((t[8:] for t in self.tags if t.startswith("license:")), None)
        return str(value)[:128] if value is not None else None


def _card(info: ModelInfo) -> dict[str, Any]:
    data = info.card_data
    if data is None:
        return {}
    doc: dict[str, Any] = data.to_dict()
    keep = ("base_model", "base_model_relation", "license", "model-index", "library_name")
    return {k: doc[k] for k in keep if doc.get(k) is not None}


def _eval_entries(info: ModelInfo) -> list[dict[str, Any]] | None:
    """``evalResults`` back in the ``.eval_results`` shape our parser reads."""
    if not info.eval_results:
        return None
    out = []
    for e in info.eval_results:
        source = {"url": e.source_url, "name": e.source_name, "user": e.source_user}
        out.append(
            {
                "dataset": {
                    "id": e.dataset_id,
                    "task_id": e.task_id,
                    "revision": e.dataset_revision,
                },
                "value": e.value,
                "date": e.date,
                "notes": e.notes,
                "source": {k: v for k, v in source.items() if v},
            }
        )
    return out


def facts_of(info: ModelInfo) -> RepoFacts:
    gated = info.gated
    files = None
    if info.siblings is not None:
        files = [
            RepoFile(
                s.rfilename,
                s.lfs.size if s.lfs else s.size,
                s.lfs.sha256 if s.lfs else None,
                s.blob_id,
            )
            for s in info.siblings
        ]
    return RepoFacts(
        repo_id=info.id,
        sha=info.sha,
        tags=list(info.tags or []),
        gated=str(gated) if gated else None,
        card=_card(info),
        downloads=info.downloads,
        downloads_all_time=info.downloads_all_time,
        last_modified=info.last_modified.isoformat() if info.last_modified else None,
        eval_results=_eval_entries(info),
        children=getattr(info, "children_model_count", None),
        files=files,
    )


class HubReader:
    """The Hub at ``endpoint``; ``token`` for gated and private repos (False: none at all)."""

    @classmethod
    def from_settings(cls, settings: Settings, endpoint: str | None = None) -> HubReader:
        """The Hub the settings name (``endpoint`` instead, when given), with their token and
        retry limits."""
        return cls(
            endpoint or settings.hf_endpoint,
            settings.hf_token,
            max_retries=settings.hub_max_retries,
            max_wait=settings.hub_max_wait,
        )

    def __init__(
        self,
        endpoint: str,
        token: str | None,
        *,
        max_retries: int = 6,
        max_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.token: str | bool = token or False
        self.api = HfApi(endpoint=self.endpoint, token=self.token)
        self.max_retries = max_retries
        self.max_wait = max_wait
        self.sleep = sleep
        self.retries = 0  # how many times a call was retried, for reports

    def _patiently(self, what: str, call: Callable[[], T]) -> T:
        wait = 0.5
        for attempt in range(self.max_retries + 1):
            try:
                return call()
            except RepositoryNotFoundError:
                raise HubRepoNotFound(
                    f"{what}: the Hub at {self.endpoint} has no such model repository",
                    hint="check the repo id; a gated or private repo needs HF_TOKEN",
                ) from None
            except HfHubHTTPError as exc:
                status = exc.response.status_code if exc.response is not None else 0
                if status == 404:
                    raise HubRepoNotFound(
                        f"{what}: not found on the Hub at {self.endpoint}",
                        hint="check the repo id and revision",
                    ) from None
                if status != 429 and status < 500:
                    raise HubUnavailable(
                        f"{what}: the Hub answered HTTP {status}",
                        hint="a 401/403 means the repo is gated or private: set HF_TOKEN",
                        detail={"status": status},
                    ) from None
                delay = wait
                if status == 429 and exc.response is not None:
                    delay = _retry_after(exc.response.headers.get("Retry-After"), wait)
                last = f"HTTP {status}"
            except (httpx2.TransportError, OSError) as exc:
                delay, last = wait, f"{type(exc).__name__}: {exc}"
            if attempt == self.max_retries:
                break
            self.retries += 1
            self.sleep(min(delay, self.max_wait))
            wait = min(wait * 2, self.max_wait)
        raise HubUnavailable(
            f"{what}: the Hub at {self.endpoint} kept failing ({last})",
            hint="try again later; a resumed `provreg hub sync` continues where it stopped",
        )

    def info(
        self, repo_id: str, revision: str | None = None, *, counters: bool = False
    ) -> RepoFacts:
        """The repo's facts with its files and their LFS SHA-256 (raises HubRepoNotFound).

        ``counters``: also what only ``expand`` brings (the all-time download counter,
        ``evalResults``, the number of children), as listings have it; one request more.
        """
        facts = self._patiently(
            repo_id,
            lambda: facts_of(self.api.model_info(repo_id, revision=revision, files_metadata=True)),
        )
        if counters:
            more = self._patiently(
                repo_id,
                lambda: facts_of(
                    self.api.model_info(repo_id, revision=revision, expand=LISTING_EXPAND)  # type: ignore[arg-type]
                ),
            )
            facts.downloads = more.downloads if more.downloads is not None else facts.downloads
            facts.downloads_all_time = more.downloads_all_time
            facts.eval_results = more.eval_results
            facts.children = more.children
        return facts

    def candidates(
        self, *, search: str | None = None, author: str | None = None, limit: int = 1000
    ) -> list[Candidate]:
        """Repos the listing finds by ``search`` text or ``author``, at most ``limit``."""
        return self._patiently(
            f"listing {search or author}",
            lambda: [
                candidate_of(m)
                for m in self.api.list_models(
                    search=search,
                    author=author,
                    limit=limit,
                    expand=SCAN_EXPAND,  # type: ignore[arg-type]
                )
            ],
        )

    def children(self, repo_id: str, relation: str) -> list[RepoFacts]:
        """The repos whose card names ``repo_id`` as base model by ``relation``."""
        return self._patiently(
            f"children of {repo_id}",
            lambda: [
                facts_of(m)
                for m in self.api.list_models(
                    filter=f"base_model:{relation}:{repo_id}",
                    expand=LISTING_EXPAND,  # type: ignore[arg-type]
                )
            ],
        )

    def read_range(self, repo_id: str, revision: str, filename: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of one file, with an HTTP ``Range`` request through
        huggingface_hub's session (redirects to the CDN followed). Raises HubUnavailable when
        the server answers with anything but exactly those bytes."""
        url = hf_hub_url(repo_id, filename, revision=revision, endpoint=self.endpoint)
        headers = build_hf_headers(token=self.token)
        headers["Range"] = f"bytes={start}-{end - 1}"

        def fetch() -> bytes:
            response = get_session().get(url, headers=headers, follow_redirects=True)
            hf_raise_for_status(response)
            if response.status_code != 206 or len(response.content) != end - start:
                raise HubUnavailable(
                    f"{repo_id}/{filename}: the Hub did not answer bytes {start}-{end - 1} "
                    f"(HTTP {response.status_code}, {len(response.content)} bytes)",
                    hint="remote sketches need a Hub (or mirror) that answers Range requests",
                )
            return response.content

        return self._patiently(f"{repo_id}/{filename}", fetch)

    def download(self, repo_id: str, revision: str, filename: str, cache_dir: Path) -> Path:
        """One file, through ``hf_hub_download`` into ``cache_dir``."""
        return Path(
            self._patiently(
                f"{repo_id}/{filename}",
                lambda: hf_hub_download(
                    repo_id,
                    filename,
                    revision=revision,
                    cache_dir=cache_dir,
                    endpoint=self.endpoint,
                    token=self.token,
                ),
            )
        )


def _retry_after(value: str | None, default: float) -> float:
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default
