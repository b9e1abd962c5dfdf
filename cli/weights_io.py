"""Reading a release from disk for the CLI: fingerprint with progress, then the sketch."""

from __future__ import annotations

import base64
from pathlib import Path

from cli.output import stderr
from cli.progress import progress_for
from registry.config import Settings
from registry.errors import WeightsError
from registry.weights import fingerprint_source, open_model
from registry.weights.sketching import sketch_source
from schemas import WeightsFingerprint


def read_release(path: Path, settings: Settings, *, as_json: bool) -> WeightsFingerprint:
    """Fingerprint and sketch the model at ``path``; a model that cannot be sketched is still
    fingerprinted (with a warning), since exact digests stand on their own."""
    source = open_model(path, max_header_bytes=settings.max_header_bytes)
    progress = progress_for(f"hashing {path.name}", as_json=as_json)
    fingerprint = fingerprint_source(
        source, workers=settings.effective_hash_workers, progress=progress
    )
    try:
        fingerprint.sketch = base64.b64encode(sketch_source(source).to_bytes()).decode()
    except WeightsError as exc:
        stderr().print(f"[yellow]warning:[/] no similarity sketch: {exc.message}")
    return fingerprint
