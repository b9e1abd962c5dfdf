"""A Hub-compatible HTTP server on loopback, for the sync tests and the sync benchmark.

It speaks the part of the Hugging Face Hub API that ``huggingface_hub`` uses to walk a model
family: ``GET /api/models`` with ``filter`` tags (``base_model:finetune:ID`` and the like),
``expand`` and ``Link: <...>; rel="next"`` paging; ``GET /api/models/{id}[/revision/{rev}]`` with
``expand``, ``blobs`` (siblings with their LFS ``sha256``) and ``cardData``; ``HEAD``/``GET``
``/{id}/resolve/{rev}/{path}`` with ``X-Repo-Commit``, ``X-Linked-Etag``, ``X-Linked-Size`` and
``ETag``, answering ``Range: bytes=a-b`` with 206 (bytes served are counted, and a bandwidth per
connection can be simulated); listings take ``search`` and ``author`` and expand ``safetensors``
(parameter counts by dtype, from the file's header), ``gguf`` and ``config`` as the Hub does. It
can answer 429 with ``Retry-After``, 5xx, or answer slowly, to test the client's patience. It
listens on 127.0.0.1 only, on a port the OS picks.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
import struct
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

HUB_RELATIONS = ("adapter", "finetune", "merge", "quantized")
_DEFAULT_FIELDS = ("id", "likes", "downloads", "tags", "pipeline_tag", "library_name", "createdAt")


@dataclass
class HubFileSpec:
    """A file in a fake repo: bytes to serve (``data``, or ``file`` on disk for large ones), or
    only LFS metadata (both None)."""

    size: int
    sha256: str | None = None  # None: a small git file (no LFS)
    data: bytes | None = None
    file: Path | None = None

    def read(self, start: int = 0, end: int | None = None) -> bytes:
        end = self.size if end is None else end
        if self.file is not None:
            with self.file.open("rb") as f:
                f.seek(start)
                return f.read(end - start)
        return (self.data if self.data is not None else b"\0" * self.size)[start:end]

    @classmethod
    def of(cls, data: bytes, *, lfs: bool = True) -> HubFileSpec:
        return cls(len(data), hashlib.sha256(data).hexdigest() if lfs else None, data)


@dataclass
class HubRepoSpec:
    """One model repo on the fake Hub."""

    id: str
    parents: list[tuple[str, str]] = field(default_factory=list)  # (parent id, relation)
    sha: str = ""
    downloads: int = 0
    downloads_all_time: int = 0
    tags: list[str] = field(default_factory=list)
    gated: bool | str = False
    license: str | None = "apache-2.0"
    files: dict[str, HubFileSpec] = field(default_factory=dict)
    model_index: list[dict[str, Any]] | None = None
    eval_results: list[dict[str, Any]] | None = None
    created_at: str = "2026-01-01T00:00:00.000Z"

    def __post_init__(self) -> None:
        if not self.sha:
            self.bump()

    def bump(self) -> None:
        """A new commit: a new ``sha``."""
        seed = f"{self.id}:{self.sha}:{sorted(self.files)}:{self.parents}"
        self.sha = hashlib.sha1(seed.encode()).hexdigest()

    def all_tags(self) -> list[str]:
        tags = list(self.tags)
        for parent, relation in self.parents:
            tags += [f"base_model:{parent}", f"base_model:{relation}:{parent}"]
        if self.license:
            tags.append(f"license:{self.license}")
        return tags

    def card_data(self) -> dict[str, Any]:
        card: dict[str, Any] = {"license": self.license, "tags": list(self.tags)}
        if self.parents:
            bases = [p for p, _ in self.parents]
            card["base_model"] = bases[0] if len(bases) == 1 else bases
            relations = {r for _, r in self.parents}
            card["base_model_relation"] = relations.pop() if len(relations) == 1 else "merge"
        if self.model_index:
            card["model-index"] = self.model_index
        return card


class FakeHub:
    """The repos and the misbehaviour; thread-safe enough for one client at a time."""

    def __init__(self, repos: list[HubRepoSpec] | None = None, *, page_size: int = 50) -> None:
        self.repos: dict[str, HubRepoSpec] = {}
        self._children: dict[str, list[str]] = {}
        self.page_size = page_size
        self.requests: list[tuple[str, str]] = []  # (method, path?query)
        self.authorizations: set[str] = set()
        self.throttle_every = 0  # every Nth request answers 429
        self.retry_after = "0"
        self.fail_every = 0  # every Nth request answers 503
        self.delay = 0.0  # seconds per API request
        self.misbehave_limit = -1  # how many 429/503 answers in all; -1: no limit
        self.record_requests = True
        self.bytes_served = 0  # weight bytes sent by resolve GETs (ranges included)
        self.range_requests = 0
        self.bandwidth = 0.0  # bytes per second per connection; 0: as fast as loopback goes
        self._count = 0
        self._lock = threading.Lock()
        for repo in repos or []:
            self.add(repo)

    def add(self, repo: HubRepoSpec) -> None:
        self.repos[repo.id] = repo
        for parent, _ in repo.parents:
            self._children.setdefault(parent, []).append(repo.id)

    def children(self, repo_id: str) -> list[str]:
        return self._children.get(repo_id, [])

    # --- misbehaviour --------------------------------------------------------------------------

    def _misbehave(self) -> Response | None:
        with self._lock:
            self._count += 1
            n = self._count
        if self.delay:
            time.sleep(self.delay)
        if self.misbehave_limit == 0:
            return None
        if self.throttle_every and n % self.throttle_every == 0:
            self.misbehave_limit -= 1
            return JSONResponse(
                {"error": "rate limited"},
                status_code=429,
                headers={"Retry-After": self.retry_after},
            )
        if self.fail_every and n % self.fail_every == 0:
            self.misbehave_limit -= 1
            return JSONResponse({"error": "unavailable"}, status_code=503)
        return None

    def _note(self, request: Request) -> None:
        auth = request.headers.get("authorization")
        if auth:
            self.authorizations.add(auth)
        if self.record_requests:
            query = f"?{request.url.query}" if request.url.query else ""
            self.requests.append((request.method, request.url.path + query))

    # --- documents -----------------------------------------------------------------------------

    def _fields(self, repo: HubRepoSpec, *, blobs: bool) -> dict[str, Any]:
        siblings = []
        for path, f in sorted(repo.files.items()):
            s: dict[str, Any] = {"rfilename": path}
            if blobs:
                s["size"] = f.size
                s["blobId"] = hashlib.sha1(f"{repo.id}/{path}".encode()).hexdigest()
                if f.sha256:
                    s["lfs"] = {"sha256": f.sha256, "size": f.size, "pointerSize": 134}
            siblings.append(s)
        return {
            "author": repo.id.split("/", 1)[0],
            "sha": repo.sha,
            "lastModified": repo.created_at,
            "createdAt": repo.created_at,
            "private": False,
            "disabled": False,
            "gated": repo.gated,
            "downloads": repo.downloads,
            "downloadsAllTime": repo.downloads_all_time,
            "likes": 0,
            "tags": repo.all_tags(),
            "pipeline_tag": "text-generation",
            "library_name": "transformers",
            "cardData": repo.card_data(),
            "siblings": siblings,
            "model-index": repo.model_index,
            "evalResults": repo.eval_results,
            "childrenModelCount": len(self.children(repo.id)),
            "safetensors": _safetensors_summary(repo),
            "gguf": _gguf_summary(repo),
            "config": _config(repo),
            "baseModels": {
                "relation": repo.card_data().get("base_model_relation"),
                "models": [{"id": p} for p, _ in repo.parents],
            }
            if repo.parents
            else None,
        }

    def document(
        self, repo: HubRepoSpec, expand: list[str], *, blobs: bool, default: tuple[str, ...]
    ) -> dict[str, Any]:
        fields = self._fields(repo, blobs=blobs)
        keys = expand or [k for k in default if k != "id"]
        doc: dict[str, Any] = {"_id": hashlib.md5(repo.id.encode()).hexdigest()[:24], "id": repo.id}
        for k in keys:
            if k in fields and fields[k] is not None:
                doc[k] = fields[k]
        return doc

    # --- routes --------------------------------------------------------------------------------

    async def list_models(self, request: Request) -> Response:
        self._note(request)
        if (bad := self._misbehave()) is not None:
            return bad
        q = request.query_params
        filters = q.getlist("filter") + q.getlist("filter[]")
        expand = q.getlist("expand") + q.getlist("expand[]")
        candidates: list[HubRepoSpec] = []
        base = [f for f in filters if f.startswith("base_model:")]
        if base:  # the index the Hub keeps: children by their base_model tags
            parent = base[0].rsplit(":", 1)[-1] if base[0].count(":") == 2 else base[0][11:]
            candidates = [self.repos[c] for c in self.children(parent)]
        else:
            candidates = list(self.repos.values())
        matched = [r for r in candidates if set(filters) <= set(r.all_tags())]
        if search := q.get("search"):
            matched = [r for r in matched if search.lower() in r.id.lower()]
        if author := q.get("author"):
            matched = [r for r in matched if r.id.split("/", 1)[0] == author]
        offset = int(q.get("cursor") or 0)
        limit = int(q.get("limit") or self.page_size)
        page = matched[offset : offset + min(limit, self.page_size)]
        headers = {}
        if offset + len(page) < len(matched):
            params = [(k, v) for k, v in q.multi_items() if k != "cursor"]
            params.append(("cursor", str(offset + len(page))))
            url = f"{request.base_url}api/models?{urlencode(params)}"
            headers["Link"] = f'<{url}>; rel="next"'
        body = [self.document(r, expand, blobs=False, default=_DEFAULT_FIELDS) for r in page]
        return JSONResponse(body, headers=headers)

    async def model_info(self, request: Request) -> Response:
        self._note(request)
        if (bad := self._misbehave()) is not None:
            return bad
        p = request.path_params
        repo = self.repos.get(f"{p['namespace']}/{p['name']}")
        revision = p.get("revision")
        if repo is None or (revision not in (None, "main", repo.sha)):
            return JSONResponse(
                {"error": "Repository not found"},
                status_code=404,
                headers={"X-Error-Code": "RepoNotFound"},
            )
        q = request.query_params
        expand = q.getlist("expand") + q.getlist("expand[]")
        blobs = q.get("blobs", "").lower() == "true"
        # as on the Hub, some fields come only when asked for with expand
        only_expanded = ("evalResults", "downloadsAllTime", "childrenModelCount", "baseModels")
        full = tuple(k for k in self._fields(repo, blobs=blobs) if k not in only_expanded)
        return JSONResponse(self.document(repo, expand, blobs=blobs, default=("id", *full)))

    async def resolve(self, request: Request) -> Response:
        self._note(request)
        if (bad := self._misbehave()) is not None:
            return bad
        p = request.path_params
        repo = self.repos.get(f"{p['namespace']}/{p['name']}")
        f = repo.files.get(p["path"]) if repo else None
        if repo is None or f is None or p["revision"] not in ("main", repo.sha):
            return Response(status_code=404, headers={"X-Error-Code": "EntryNotFound"})
        etag = f.sha256 or hashlib.sha1(f.data or b"").hexdigest()
        headers = {"X-Repo-Commit": repo.sha, "ETag": f'"{etag}"', "Accept-Ranges": "bytes"}
        if f.sha256:
            headers.update({"X-Linked-Etag": f'"{f.sha256}"', "X-Linked-Size": str(f.size)})
        if request.method == "HEAD":
            headers["Content-Length"] = str(f.size)
            return Response(status_code=200, headers=headers)
        status, start, end = 200, 0, f.size
        if (wanted := request.headers.get("range")) is not None:
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", wanted.strip())
            if m is None or int(m[1]) >= f.size:
                return Response(status_code=416, headers={"Content-Range": f"bytes */{f.size}"})
            start = int(m[1])
            end = min(int(m[2]) + 1 if m[2] else f.size, f.size)
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{f.size}"
            status = 206
            with self._lock:
                self.range_requests += 1
        data = f.read(start, end)
        with self._lock:
            self.bytes_served += len(data)
        if self.bandwidth:
            await asyncio.sleep(len(data) / self.bandwidth)  # this connection's share of the link
        return Response(
            data, status_code=status, headers=headers, media_type="application/octet-stream"
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/models", self.list_models),
                Route("/api/models/{namespace}/{name}", self.model_info),
                Route("/api/models/{namespace}/{name}/revision/{revision}", self.model_info),
                Route(
                    "/{namespace}/{name}/resolve/{revision}/{path:path}",
                    self.resolve,
                    methods=["GET", "HEAD"],
                ),
            ]
        )


class HubServer:
    """Runs a :class:`FakeHub` with uvicorn in a thread on 127.0.0.1; ``url`` is its endpoint."""

    def __init__(self, hub: FakeHub) -> None:
        self.hub = hub
        config = uvicorn.Config(
            hub.app(), host="127.0.0.1", port=0, log_level="error", access_log=False, lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self.url = ""

    def __enter__(self) -> HubServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the loopback hub did not start")
            time.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


# --- what the Hub derives from a repo's files ---------------------------------------------------


def _safetensors_summary(repo: HubRepoSpec) -> dict[str, Any] | None:
    """``{"parameters": {dtype: count}, "total": count}`` from the safetensors headers."""
    counts: dict[str, int] = {}
    for path, f in repo.files.items():
        if not path.endswith(".safetensors") or f.data is None or len(f.data) < 8:
            continue
        (n,) = struct.unpack("<Q", f.data[:8])
        header = json.loads(f.data[8 : 8 + n])
        for name, entry in header.items():
            if name == "__metadata__":
                continue
            numel = 1
            for d in entry["shape"]:
                numel *= d
            counts[entry["dtype"]] = counts.get(entry["dtype"], 0) + numel
    return {"parameters": counts, "total": sum(counts.values())} if counts else None


def _gguf_summary(repo: HubRepoSpec) -> dict[str, Any] | None:
    """``{"total", "architecture", "context_length"}`` of the repo's first GGUF file."""
    import gguf

    for path, f in sorted(repo.files.items()):
        if not path.endswith(".gguf") or f.data is None:
            continue
        with tempfile.NamedTemporaryFile(suffix=".gguf") as tmp:
            tmp.write(f.data)
            tmp.flush()
            reader = gguf.GGUFReader(tmp.name)
            arch_field = reader.fields.get("general.architecture")
            arch = bytes(arch_field.parts[-1]).decode() if arch_field else None
            total = sum(int(t.n_elements) for t in reader.tensors)
        return {"total": total, "architecture": arch}
    return None


def _config(repo: HubRepoSpec) -> dict[str, Any] | None:
    f = repo.files.get("config.json")
    if f is None or f.data is None:
        return None
    try:
        doc = json.loads(f.data)
    except ValueError:
        return None
    keep = ("architectures", "model_type", "hidden_size", "num_hidden_layers", "vocab_size")
    return {k: doc[k] for k in keep if k in doc} if isinstance(doc, dict) else None


# --- generated trees -----------------------------------------------------------------------------


def generated_tree(
    size: int, *, root: str = "base-org/base", fanout: int = 8, seed: int = 0
) -> Iterator[HubRepoSpec]:
    """``size`` repos: ``root`` and descendants, breadth first, each with up to ``fanout``
    children of a random Hub relation, a weights file known only by its LFS digest, a config,
    download counters and, for one in ten, a model-index result."""
    rng = random.Random(seed)
    yield _generated(root, [], rng, 0)
    parents = [root]
    made = 1
    level = 0
    while made < size:
        level += 1
        next_level: list[str] = []
        for parent in parents:
            for k in range(fanout):
                if made >= size:
                    break
                repo_id = f"org{made % 97}/m{level}-{made}-{k}"
                relation = HUB_RELATIONS[rng.randrange(len(HUB_RELATIONS))]
                yield _generated(repo_id, [(parent, relation)], rng, made)
                next_level.append(repo_id)
                made += 1
        parents = next_level


def _generated(
    repo_id: str, parents: list[tuple[str, str]], rng: random.Random, n: int
) -> HubRepoSpec:
    weights = hashlib.sha256(f"weights:{repo_id}".encode()).hexdigest()
    files = {
        "config.json": HubFileSpec.of(b'{"model_type": "llama"}', lfs=False),
        "model.safetensors": HubFileSpec(size=1000 + n, sha256=weights),
    }
    index = None
    if n % 10 == 0:
        index = [
            {
                "name": repo_id,
                "results": [
                    {
                        "task": {"type": "text-generation"},
                        "dataset": {"type": "cais/mmlu", "name": "MMLU"},
                        "metrics": [{"type": "accuracy", "value": round(rng.random(), 4)}],
                    }
                ],
            }
        ]
    return HubRepoSpec(
        id=repo_id,
        parents=parents,
        downloads=rng.randrange(100_000),
        downloads_all_time=rng.randrange(100_000, 1_000_000),
        files=files,
        model_index=index,
    )


def zoo_files(directory: Path) -> dict[str, HubFileSpec]:
    """The files of a committed zoo model, to serve as a repo's content."""
    return {
        p.name: HubFileSpec.of(p.read_bytes(), lfs=p.suffix in (".safetensors", ".gguf"))
        for p in sorted(directory.iterdir())
        if p.is_file()
    }
