"""Reading a release from disk for the CLI: fingerprint with progress, then the sketch."""

from __future__ import annotations

import base64
from pathlib import Path

from cli.output import stderr
from cli.progress import progress_for
from registry.config import Settings
from registry.errors import WeightsError
from schemas import WeightsFingerprint


def read_release(path: Path, settings: Settings, *, quiet: bool) -> WeightsFingerprint:
    """Fingerprint and sketch the model at ``path`` (a progress bar unless ``quiet``); a model
    that cannot be sketched is still fingerprinted (with a warning), since exact digests stand
    on their own."""
    # the readers pull in numpy, scipy and onnx: load them only for commands that read weights
    from registry.weights import fingerprint_source, open_model
    from registry.weights.sketching import sketch_source

    source = open_model(path, max_header_bytes=settings.max_header_bytes)
    progress = progress_for(f"hashing {path.name}", quiet=quiet)
    fingerprint = fingerprint_source(
        source, workers=settings.effective_hash_workers, progress=progress
    )
    try:
        fingerprint.sketch = base64.b64encode(sketch_source(source).to_bytes()).decode()
    except WeightsError as exc:
        stderr().print(f"[yellow]warning:[/] no similarity sketch: {exc.message}")
    return fingerprint
