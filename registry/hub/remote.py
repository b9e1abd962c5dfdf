"""Sketching a Hub repo's weights from a fraction of their bytes, with HTTP range reads.

Each weight file becomes a *sparse* local file of its full size (holes cost no disk). Its header
is fetched first (safetensors: the 8-byte length, then the JSON; GGUF: a prefix grown until the
header walk fits in it), so the ordinary readers open the sparse copy as they open a download.
Sketching then asks for the rows it reads before reading them (:attr:`ModelSource.fetch`): the
missing byte ranges are coalesced, fetched through huggingface_hub's session with ``Range``
requests, and written into the holes. Every byte the sketch reads is a byte of the real file, so
the sketch equals a sketch of the whole download, bit for bit.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from registry.errors import HeaderMalformed, WeightsError
from registry.hub.reader import HubReader
from registry.weights.reader import ModelSource, open_model

# Ranges closer than this are fetched as one: a request costs more than a few KiB of bytes.
COALESCE_GAP = 64 * 1024
# A GGUF header (metadata with the tokenizer's vocabulary, then tensor infos) is read from a
# prefix that starts here and grows 4x until the walk fits, up to the readers' header cap.
GGUF_FIRST_PREFIX = 1024 * 1024
SMALL_FILE = 16 * 1024 * 1024  # config.json, the shard index: fetched whole
FETCH_THREADS = 4


@dataclass
class RemoteFile:
    """One file of the repo: its name in the repo and its size."""

    path: str
    size: int


def coalesce(ranges: list[tuple[int, int]], gap: int = COALESCE_GAP) -> list[tuple[int, int]]:
    """Sorted, merged ``[a, b)`` ranges; ranges at most ``gap`` apart become one."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(r for r in ranges if r[1] > r[0]):
        if out and a - out[-1][1] <= gap:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def subtract(ranges: list[tuple[int, int]], have: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of sorted, disjoint ``ranges`` not covered by sorted, disjoint ``have``."""
    out: list[tuple[int, int]] = []
    j = 0
    for a, b in ranges:
        while j < len(have) and have[j][1] <= a:
            j += 1
        k, cur = j, a
        while k < len(have) and have[k][0] < b:
            if have[k][0] > cur:
                out.append((cur, have[k][0]))
            cur = max(cur, have[k][1])
            k += 1
        if cur < b:
            out.append((cur, b))
    return out


@dataclass
class RemoteStats:
    """What a remote sketch cost: bytes and requests, against the weight bytes it covers."""

    bytes_fetched: int = 0
    requests: int = 0
    weight_bytes: int = 0

    @property
    def share(self) -> float:
        return self.bytes_fetched / self.weight_bytes if self.weight_bytes else 0.0


@dataclass
class RemoteRepo:
    """Sparse local copies of some of a repo's files, filled by range reads as needed."""

    hub: HubReader
    repo_id: str
    revision: str
    directory: Path
    files: dict[str, RemoteFile]
    gap: int = COALESCE_GAP
    stats: RemoteStats = field(default_factory=RemoteStats)
    _have: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def local(self, path: str) -> Path:
        return self.directory / path

    def create(self) -> None:
        """Every file as a hole of its full size."""
        for f in self.files.values():
            target = self.local(f.path)
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as out:
                out.truncate(f.size)
            self._have[f.path] = []

    def fetch(self, path: str, ranges: list[tuple[int, int]]) -> None:
        """Make ``ranges`` of ``path`` present locally, fetching what is missing."""
        size = self.files[path].size
        wanted = coalesce([(max(0, a), min(size, b)) for a, b in ranges], self.gap)
        with self._lock:
            missing = subtract(wanted, self._have[path])
        if not missing:
            return
        missing = coalesce(missing, self.gap)

        def one(r: tuple[int, int]) -> tuple[tuple[int, int], bytes]:
            return r, self.hub.read_range(self.repo_id, self.revision, path, r[0], r[1])

        if len(missing) == 1:
            results = [one(missing[0])]
        else:
            with ThreadPoolExecutor(max_workers=FETCH_THREADS) as pool:
                results = list(pool.map(one, missing))
        fd = os.open(self.local(path), os.O_WRONLY)
        try:
            for (a, _), data in results:
                os.pwrite(fd, data, a)
        finally:
            os.close(fd)
        with self._lock:
            self._have[path] = coalesce(self._have[path] + missing, 0)
            self.stats.bytes_fetched += sum(b - a for a, b in missing)
            self.stats.requests += len(missing)

    def fetch_whole(self, path: str) -> None:
        self.fetch(path, [(0, self.files[path].size)])


def _safetensors_header(repo: RemoteRepo, path: str) -> None:
    size = repo.files[path].size
    if size < 8:
        raise HeaderMalformed(f"{path}: {size} bytes is shorter than a safetensors header")
    repo.fetch(path, [(0, 8)])
    with repo.local(path).open("rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
    repo.fetch(path, [(8, min(size, 8 + n))])


def _gguf_header(repo: RemoteRepo, path: str, max_header_bytes: int) -> None:
    """Grow the fetched prefix until the reader's header walk fits in it."""
    from registry.weights.gguf_reader import read_file

    size = repo.files[path].size
    prefix = min(size, GGUF_FIRST_PREFIX)
    while True:
        repo.fetch(path, [(0, prefix)])
        try:
            read_file(repo.local(path), path, max_header_bytes=prefix)
            return
        except HeaderMalformed:
            if prefix >= min(size, max_header_bytes):
                raise
            prefix = min(size, max_header_bytes, prefix * 4)


def _index_shards(repo: RemoteRepo, index: str) -> list[str]:
    repo.fetch_whole(index)
    try:
        doc = json.loads(repo.local(index).read_bytes())
        shards = sorted(set(doc["weight_map"].values()))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise WeightsError(f"{repo.repo_id}/{index}: not a safetensors shard index") from None
    return [s for s in shards if isinstance(s, str)]


@contextmanager
def open_remote(
    hub: HubReader,
    repo_id: str,
    revision: str,
    files: list[RemoteFile],
    *,
    max_header_bytes: int,
    workdir: Path | None = None,
    gap: int = COALESCE_GAP,
) -> Iterator[tuple[ModelSource, RemoteStats]]:
    """The repo's model (its safetensors, else one GGUF file) opened from sparse local copies,
    with :attr:`ModelSource.fetch` reading further bytes on demand; the copies are deleted on
    exit. Raises the readers' errors, :class:`HubUnavailable` and :class:`WeightsError`."""
    by_path = {f.path: f for f in files if "/" not in f.path}
    safetensors = sorted(p for p in by_path if p.endswith(".safetensors"))
    gguf = sorted((p for p in by_path if p.endswith(".gguf")), key=lambda p: by_path[p].size)
    if not safetensors and not gguf:
        raise WeightsError(f"{repo_id}: no safetensors or GGUF weights to sketch")
    index = "model.safetensors.index.json"
    small = [p for p in ("config.json", index) if p in by_path and by_path[p].size <= SMALL_FILE]
    chosen = safetensors + small if safetensors else [gguf[-1]]
    directory = Path(tempfile.mkdtemp(prefix="provreg-remote-", dir=workdir))
    try:
        repo = RemoteRepo(hub, repo_id, revision, directory, {p: by_path[p] for p in chosen}, gap)
        repo.create()
        for p in small:
            repo.fetch_whole(p)
        if safetensors:
            wanted = _index_shards(repo, index) if index in small else safetensors
            for p in wanted:
                if p not in repo.files:
                    raise WeightsError(f"{repo_id}: the shard index names {p}, not in the repo")
                _safetensors_header(repo, p)
            target = directory
        else:
            _gguf_header(repo, gguf[-1], max_header_bytes)
            target = repo.local(gguf[-1])
        source = open_model(target, max_header_bytes=max_header_bytes)
        source.fetch = repo.fetch
        repo.stats.weight_bytes = sum(f.size for f in source.files)
        yield source, repo.stats
    finally:
        shutil.rmtree(directory, ignore_errors=True)
