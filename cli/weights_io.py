"""Reading a release from disk for the CLI: fingerprint with progress, then the sketch."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from cli.output import stderr
from cli.progress import progress_for
from registry.config import Settings
from registry.errors import WeightsError
from schemas import WeightsFingerprint

ADAPTER_CONFIG = "adapter_config.json"


def is_adapter_release(path: Path) -> bool:
    """A PEFT adapter: a directory with adapter_config.json (and no base weights)."""
    return path.is_dir() and (path / ADAPTER_CONFIG).is_file()


def adapter_base(path: Path) -> str | None:
    """The base an adapter release declares (``base_model_name_or_path``), if readable."""
    try:
        config = json.loads((path / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    base = config.get("base_model_name_or_path") if isinstance(config, dict) else None
    return base if isinstance(base, str) and base else None


def read_release(path: Path, settings: Settings, *, quiet: bool) -> WeightsFingerprint:
    """Fingerprint and sketch the model at ``path`` (a progress bar unless ``quiet``); a model
    that cannot be sketched is still fingerprinted (with a warning), since exact digests stand
    on their own. A PEFT adapter gets an adapter sketch instead of a model sketch."""
    # the readers pull in numpy, scipy and onnx: load them only for commands that read weights
    from registry.weights import fingerprint_source, open_model
    from registry.weights.sketching import sketch_source

    source = open_model(path, max_header_bytes=settings.max_header_bytes)
    progress = progress_for(f"hashing {path.name}", quiet=quiet)
    fingerprint = fingerprint_source(
        source, workers=settings.effective_hash_workers, progress=progress
    )
    if is_adapter_release(path):
        from registry.weights.adapter import sketch_adapter

        fingerprint.adapter = base64.b64encode(sketch_adapter(path, source).to_bytes()).decode()
        return fingerprint
    try:
        fingerprint.sketch = base64.b64encode(sketch_source(source).to_bytes()).decode()
    except WeightsError as exc:
        stderr().print(f"[yellow]warning:[/] no similarity sketch: {exc.message}")
    return fingerprint
