"""Fingerprints: every file's SHA-256, every tensor's digest and the variant digest of a model.

Files are hashed in parallel, each in one sequential pass; see :mod:`registry.weights.digests`
for the digest formats.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Protocol, runtime_checkable

from registry.weights.digests import NullProgress, ProgressReporter, hash_file, variant_digest
from registry.weights.reader import (
    DEFAULT_MAX_HEADER_BYTES,
    ModelSource,
    TensorInfo,
    WeightFile,
    open_model,
)
from registry.weights.validation import architecture_of
from schemas.variants import FileDigest, TensorDigest, WeightsFingerprint


@runtime_checkable
class InlineTensors(Protocol):
    """A source whose tensors named in ``inline`` are not byte ranges of a file (ONNX
    initializers inside protobuf); it computes their digests itself, one at a time."""

    inline: frozenset[str]

    def inline_digests(self) -> Iterator[tuple[str, str]]: ...


def fingerprint_path(
    path: Path,
    *,
    workers: int = 0,
    progress: ProgressReporter | None = None,
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
) -> WeightsFingerprint:
    """The fingerprint of the model at ``path`` (a safetensors file or directory).

    ``workers`` is how many files are hashed at once (0: ``min(8, cpu_count)``); when it is
    above 1 each of those files also gets a thread that reads it and computes its tensor
    digests while SHA-256 runs. ``progress`` hears the total bytes, then every chunk hashed.
    Raises what :func:`open_model` raises, and :class:`WeightsError` for an unreadable
    ``config.json`` or a file that changes while it is read.
    """
    source = open_model(Path(path), max_header_bytes=max_header_bytes)
    return fingerprint_source(source, workers=workers, progress=progress)


def fingerprint_source(
    source: ModelSource, *, workers: int = 0, progress: ProgressReporter | None = None
) -> WeightsFingerprint:
    """The fingerprint of a model already opened with :func:`open_model`."""
    report = progress or NullProgress()
    by_file: dict[str, list[TensorInfo]] = {f.name: [] for f in source.files}
    inline = source.inline if isinstance(source, InlineTensors) else frozenset()
    for t in source.tensors:
        if t.name not in inline:
            by_file[t.file].append(t)
    jobs: list[tuple[WeightFile, list[TensorInfo]]] = [
        (f, by_file[f.name]) for f in source.files
    ] + [(f, []) for f in source.extra_files]
    jobs.sort(key=lambda job: -job[0].size)  # largest first balances the threads best

    workers = workers if workers > 0 else min(8, os.cpu_count() or 1)
    threads = max(1, min(workers, len(jobs)))
    report.start(sum(f.size for f, _ in jobs))
    try:
        with ExitStack() as stack:
            helper: Executor | None = None
            if workers > 1:
                helper = stack.enter_context(
                    ThreadPoolExecutor(threads, thread_name_prefix="provreg-read")
                )

            def run(job: tuple[WeightFile, list[TensorInfo]]) -> tuple[str, list[str]]:
                f, ts = job
                return hash_file(f.path, ts, size=f.size, progress=report, helper=helper)

            if threads == 1:
                results = [run(job) for job in jobs]
            else:
                pool = stack.enter_context(
                    ThreadPoolExecutor(threads, thread_name_prefix="provreg-hash")
                )
                results = list(pool.map(run, jobs))
    finally:
        report.finish()

    files: list[FileDigest] = []
    tensors: list[TensorDigest] = []
    for (f, ts), (sha, digests) in zip(jobs, results, strict=True):
        files.append(FileDigest(path=f.name, size=f.size, sha256=sha))
        tensors.extend(
            TensorDigest(name=t.name, dtype=t.dtype, shape=list(t.shape), digest=d)
            for t, d in zip(ts, digests, strict=True)
        )
    if isinstance(source, InlineTensors) and source.inline:
        by_name = {t.name: t for t in source.tensors}
        for name, d in source.inline_digests():
            t = by_name[name]
            tensors.append(TensorDigest(name=name, dtype=t.dtype, shape=list(t.shape), digest=d))
    files.sort(key=lambda fd: fd.path)
    tensors.sort(key=lambda td: (td.name, td.digest))
    return WeightsFingerprint(
        digest=variant_digest(t.digest for t in tensors),
        format=source.format,
        parameters=sum(t.numel for t in source.tensors),
        dtypes=sorted({t.dtype for t in source.tensors}),
        files=files,
        tensors=tensors,
        architecture=architecture_of(source.config),
        config=source.config,
    )
