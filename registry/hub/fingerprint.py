"""Identifying an observed repo's weights, once per commit, in one of two ways.

* :func:`fingerprint_repo` (``hub sync --fingerprint`` in process): the safetensors files (with
  their shard index and config) or else one GGUF file are fetched with ``hf_hub_download`` into
  a directory of their own, fingerprinted and sketched, registered as the repo's ``main``
  (exact digests; its declared edges checked, detected ones added) and deleted before the next
  repo, so disk use is bounded by the largest repo.
* :func:`sketch_repo_remotely` (fingerprint jobs): only the headers and the rows the sketch
  reads are fetched by range requests; the sketch is stored for the observed variant and its
  lineage checked the same way. No variant digest (that needs every byte), a fraction of the
  traffic.

Pickle-only repos are refused, never downloaded.
"""

from __future__ import annotations

import base64
import contextlib
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete
from sqlmodel import Session, col, select

from registry.config import Settings
from registry.db.engine import transaction
from registry.db.models import HubFile, HubRepo, LineageEdge, SketchBand, Variant, VariantSketch
from registry.errors import ProvregError, RevisionImmutable, WeightsError
from registry.hub.reader import HubReader
from registry.services.identify.sketch_index import store_sketch
from registry.services.lineage.checks import check_lineage
from registry.services.lineage.edge_log import edges_touching, log_edge_states
from registry.services.variants.register import register_variant
from registry.weights import fingerprint_source, open_model
from registry.weights.sketch import Sketch
from registry.weights.sketching import sketch_source
from schemas import VariantCreate

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")
_COMPANIONS = ("config.json", "model.safetensors.index.json")


@dataclass
class FingerprintOutcome:
    repo_id: str
    fingerprinted: bool
    note: str
    verified: int = 0
    disputed: int = 0
    detected: int = 0


def _pick(files: list[HubFile]) -> tuple[list[HubFile], str | None]:
    """The files to download, or a reason there are none."""
    top = [f for f in files if "/" not in f.path]
    safetensors = [f for f in top if f.path.endswith(".safetensors")]
    if safetensors:
        return safetensors + [f for f in top if f.path in _COMPANIONS], None
    gguf = sorted((f for f in top if f.path.endswith(".gguf")), key=lambda f: f.size or 0)
    if gguf:
        return [gguf[-1]], None
    if any(f.path.endswith(PICKLE_SUFFIXES) for f in files):
        return [], "only pickle-based weights: refused, never downloaded"
    return [], "no safetensors or GGUF weights"


def fingerprint_repo(
    session: Session,
    hub: HubReader,
    repo: HubRepo,
    *,
    workdir: Path | None = None,
    max_bytes: int,
    max_header_bytes: int,
    workers: int = 0,
    on_file: Callable[[str, int], None] | None = None,
) -> FingerprintOutcome | None:
    """Fingerprint ``repo`` at its recorded commit unless done already (then None).

    Errors of the weights or the Hub for this repo become its note; commits.
    """
    if repo.sha is None or repo.fingerprinted_sha == repo.sha:
        return None
    files = list(session.exec(select(HubFile).where(HubFile.hub_repo_id == repo.id)))
    chosen, reason = _pick(files)
    total = sum(f.size or 0 for f in chosen)
    if reason is None and total > max_bytes:
        reason = f"{total} bytes of weights, over the limit of {max_bytes}"
    outcome = FingerprintOutcome(repo.repo_id, False, reason or "")
    if reason is None:
        scratch = Path(tempfile.mkdtemp(prefix="provreg-hub-", dir=workdir))
        try:
            paths = []
            for f in chosen:
                if on_file is not None:
                    on_file(f"{repo.repo_id}/{f.path}", f.size or 0)
                paths.append(hub.download(repo.repo_id, repo.sha, f.path, scratch / "cache"))
            weights = paths[0] if paths[0].suffix == ".gguf" else paths[0].parent
            source = open_model(weights, max_header_bytes=max_header_bytes)
            fp = fingerprint_source(source, workers=workers)
            with contextlib.suppress(WeightsError):  # exact digests stand on their own
                fp.sketch = base64.b64encode(sketch_source(source).to_bytes()).decode()
            register_variant(session, VariantCreate(name=repo.repo_id, fingerprint=fp))
            outcome.fingerprinted, outcome.note = True, f"fingerprinted {fp.digest}"
        except RevisionImmutable as exc:
            outcome.note = f"differs from the registered {repo.repo_id}@main: {exc.message}"
        except ProvregError as exc:
            outcome.note = f"not fingerprinted: {exc.message}"
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return _finish(session, repo, outcome)


def _finish(session: Session, repo: HubRepo, outcome: FingerprintOutcome) -> FingerprintOutcome:
    """Mark the repo done at its commit with the outcome's note, and count its edges."""
    with transaction(session):
        repo = session.merge(repo)
        repo.fingerprinted_sha = repo.sha
        repo.fingerprint_note = outcome.note[:500]
        session.add(repo)
        for edge in session.exec(
            select(LineageEdge).where(LineageEdge.child_id == repo.variant_id)
        ):
            if edge.status == "verified":
                outcome.verified += 1
            elif edge.status == "disputed":
                outcome.disputed += 1
            elif edge.source == "detected":
                outcome.detected += 1
    return outcome


def fingerprinter_for(
    settings: Settings, hub: HubReader, *, on_file: Callable[[str, int], None] | None = None
) -> Callable[[Session, HubRepo], FingerprintOutcome | None]:
    """:func:`fingerprint_repo` with the settings' limits (largest repo, largest header, hashing
    threads): what `hub sync --fingerprint` and the workers run for each repo."""

    def fingerprint(session: Session, repo: HubRepo) -> FingerprintOutcome | None:
        return fingerprint_repo(
            session,
            hub,
            repo,
            max_bytes=settings.hub_fingerprint_max_bytes,
            max_header_bytes=settings.max_header_bytes,
            workers=settings.effective_hash_workers,
            on_file=on_file,
        )

    return fingerprint


def sketch_repo_remotely(
    session: Session,
    hub: HubReader,
    repo: HubRepo,
    *,
    max_header_bytes: int,
    workdir: Path | None = None,
) -> FingerprintOutcome | None:
    """Sketch ``repo`` at its recorded commit from range reads and check its lineage, unless
    done already (then None). Errors of the weights or the Hub become its note; commits."""
    from registry.hub.remote import RemoteFile, open_remote

    if repo.sha is None or repo.fingerprinted_sha == repo.sha:
        return None
    files = list(session.exec(select(HubFile).where(HubFile.hub_repo_id == repo.id)))
    chosen, reason = _pick(files)
    outcome = FingerprintOutcome(repo.repo_id, False, reason or "")
    if reason is None:
        remote = [RemoteFile(f.path, f.size or 0) for f in chosen]
        try:
            with open_remote(
                hub, repo.repo_id, repo.sha, remote, max_header_bytes=max_header_bytes,
                workdir=workdir,
            ) as (source, stats):  # fmt: skip
                sketch = sketch_source(source)
            with transaction(session):
                record_observed_sketch(session, repo.variant_id, sketch)
            outcome.fingerprinted = True
            outcome.note = (
                f"sketched remotely from {stats.bytes_fetched:,} of {stats.weight_bytes:,} "
                f"weight bytes ({stats.share:.1%}, {stats.requests} range requests)"
            )
        except ProvregError as exc:
            outcome.note = f"not sketched: {exc.message}"
    return _finish(session, repo, outcome)


def record_observed_sketch(session: Session, variant_id: int, sketch: Sketch) -> None:
    """Keep an observed variant's sketch (replacing one of an older commit) and check its
    lineage as a registration would, logging the edges' states (the caller commits)."""
    variant = session.get(Variant, variant_id)
    assert variant is not None and variant.id is not None
    old = session.get(VariantSketch, variant.id)
    if old is not None:  # the sketch of an older commit: its bands go with it
        session.execute(delete(SketchBand).where(col(SketchBand.variant_id) == variant.id))
        session.delete(old)
        session.flush()
    store_sketch(session, variant.id, sketch, sketch.to_bytes())
    session.flush()
    moved = check_lineage(session, variant, sketch)
    log_edge_states(session, edges_touching(session, variant.id))
    log_edge_states(session, moved)
