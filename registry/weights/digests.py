"""Exact digests of files and tensors, computed in one streaming pass per file.

These formats are public; changing one changes every registered digest:

* file: the hex SHA-256 of the file's bytes, equal to ``sha256sum`` and to the Hub's LFS oid.
* tensor: ``"blake3:" + hex`` of BLAKE3 over the UTF-8 prefix ``f"{dtype}|{d0},{d1},...|"``
  (the safetensors dtype name, the shape's dimensions joined by ``,``, empty for a scalar)
  followed by the tensor's raw bytes as stored (little-endian). The tensor's name is not part
  of it.
* variant: ``"sha256:" + hex`` of SHA-256 over the sorted tensor digests joined with ``"\\n"``
  (no trailing newline). It depends only on the multiset of tensors: renaming tensors or
  re-sharding keeps it; any changed value, dtype or shape changes it.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor, Future, wait
from pathlib import Path
from typing import Protocol

from blake3 import blake3

from registry.errors import WeightsError
from registry.weights.reader import TensorInfo

# Bytes read per step. Each file being hashed holds two such buffers; tests lower it.
CHUNK_SIZE = 8 * 1024 * 1024


class ProgressReporter(Protocol):
    """Told how many bytes will be hashed, then of each step; ``advance`` may come from any
    worker thread, so implementations must be thread-safe."""

    def start(self, total_bytes: int) -> None: ...

    def advance(self, nbytes: int) -> None: ...

    def finish(self) -> None: ...


class NullProgress:
    """A :class:`ProgressReporter` that reports nothing."""

    def start(self, total_bytes: int) -> None:
        pass

    def advance(self, nbytes: int) -> None:
        pass

    def finish(self) -> None:
        pass


def tensor_prefix(dtype: str, shape: Sequence[int]) -> bytes:
    """The bytes hashed before a tensor's data: ``b"F32|2,3|"``."""
    return f"{dtype}|{','.join(map(str, shape))}|".encode()


def tensor_digest(dtype: str, shape: Sequence[int], data: bytes | memoryview) -> str:
    """The digest of one tensor held in memory: ``"blake3:" + hex``."""
    h = blake3(tensor_prefix(dtype, shape))
    h.update(data)
    return "blake3:" + h.hexdigest()


def variant_digest(tensor_digests: Iterable[str]) -> str:
    """The variant digest of a multiset of tensor digests: ``"sha256:" + hex``."""
    joined = "\n".join(sorted(tensor_digests)).encode()
    return "sha256:" + hashlib.sha256(joined).hexdigest()


class _TensorSweep:
    """Feeds consecutive chunks of a file to the BLAKE3 hasher of each tensor they overlap."""

    def __init__(self, tensors: Sequence[TensorInfo]) -> None:
        self.digests: list[str | None] = [None] * len(tensors)
        self._todo: list[tuple[int, int, int]] = []
        for i in sorted(range(len(tensors)), key=lambda i: tensors[i].start):
            t = tensors[i]
            if t.start == t.end:
                self.digests[i] = tensor_digest(t.dtype, t.shape, b"")
            else:
                if self._todo and t.start < self._todo[-1][1]:
                    raise ValueError(f"tensor {t.name!r} overlaps another; cannot stream")
                self._todo.append((t.start, t.end, i))
        self._prefixes = {
            i: tensor_prefix(tensors[i].dtype, tensors[i].shape) for *_, i in self._todo
        }
        self._next = 0
        self._hasher: blake3 | None = None

    def feed(self, view: memoryview, offset: int) -> None:
        """Hash the part of ``view`` (the file's bytes from ``offset``) that belongs to tensors."""
        end = offset + len(view)
        todo = self._todo
        while self._next < len(todo):
            start, stop, i = todo[self._next]
            if start >= end:
                return
            if self._hasher is None:
                self._hasher = blake3(self._prefixes[i])
            lo = start - offset if start > offset else 0
            self._hasher.update(view[lo : stop - offset] if stop < end else view[lo:])
            if stop > end:
                return
            self.digests[i] = "blake3:" + self._hasher.hexdigest()
            self._hasher = None
            self._next += 1

    def done(self) -> bool:
        return self._next == len(self._todo)


def _read_and_feed(f: io.FileIO, buf: memoryview, sweep: _TensorSweep, offset: int) -> int:
    n = f.readinto(buf) or 0
    if n:
        sweep.feed(buf[:n], offset)
    return n


def hash_file(
    path: Path,
    tensors: Sequence[TensorInfo] = (),
    *,
    size: int | None = None,
    chunk_size: int | None = None,
    progress: ProgressReporter | None = None,
    helper: Executor | None = None,
) -> tuple[str, list[str]]:
    """The file's hex SHA-256 and the digests of ``tensors`` (same order), in one read.

    ``tensors`` give absolute byte ranges in the file and must not overlap. With ``helper``,
    reading and BLAKE3 run on it while this thread computes SHA-256 of the previous chunk.
    Raises :class:`WeightsError` when the file is not ``size`` bytes (changed while reading).
    """
    chunk = chunk_size or CHUNK_SIZE
    report = progress or NullProgress()
    sweep = _TensorSweep(tensors)
    sha = hashlib.sha256()
    bufs = [memoryview(bytearray(chunk)) for _ in range(2 if helper else 1)]
    offset = 0
    try:
        with path.open("rb", buffering=0) as f:
            if helper is None:
                while n := f.readinto(bufs[0]):
                    view = bufs[0][:n]
                    sha.update(view)
                    sweep.feed(view, offset)
                    offset += n
                    report.advance(n)
            else:
                # Pipeline: the helper reads chunk k+1 and hashes its tensors into one buffer
                # while this thread runs SHA-256 over chunk k in the other.
                k = 0
                pending: Future[int] = helper.submit(_read_and_feed, f, bufs[0], sweep, 0)
                try:
                    while n := pending.result():
                        view = bufs[k % 2][:n]
                        k += 1
                        pending = helper.submit(_read_and_feed, f, bufs[k % 2], sweep, offset + n)
                        sha.update(view)
                        offset += n
                        report.advance(n)
                finally:
                    wait([pending])  # never close the file under a running read
    except OSError as e:
        raise WeightsError(f"{path.name}: cannot read: {e.strerror}") from e
    if (size is not None and offset != size) or not sweep.done():
        raise WeightsError(
            f"{path.name}: file changed while it was read ({offset} bytes read)",
            hint="hash it again once nothing writes to it",
        )
    return sha.hexdigest(), [d for d in sweep.digests if d is not None]
