"""Model files in; exact fingerprints and similarity sketches out, and two sketches into evidence.

Safe readers (safetensors, GGUF, ONNX), streaming digests, sketches and their comparison. Knows
nothing about databases or HTTP; never unpickles anything.

Names are imported on first use (PEP 562): numpy, scipy and onnx take seconds to import, and a
command that reads no weights should not pay for them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Comparison": "compare",
    "compare_sketches": "compare",
    "NullProgress": "digests",
    "ProgressReporter": "digests",
    "tensor_digest": "digests",
    "variant_digest": "digests",
    "fingerprint_path": "fingerprint",
    "fingerprint_source": "fingerprint",
    "GGUFReader": "gguf_reader",
    "gguf_arrays": "gguf_arrays",
    "OnnxReader": "onnx_reader",
    "OnnxSource": "onnx_reader",
    "onnx_arrays": "onnx_reader",
    "ModelSource": "reader",
    "TensorInfo": "reader",
    "WeightFile": "reader",
    "WeightReader": "reader",
    "open_model": "reader",
    "supported_formats": "reader",
    "Sketch": "sketch",
    "SketchError": "sketch_build",
    "build_sketch": "sketch_build",
    "sketch_path": "sketching",
    "sketch_source": "sketching",
}
__all__ = [
    "Comparison",
    "GGUFReader",
    "ModelSource",
    "NullProgress",
    "OnnxReader",
    "OnnxSource",
    "ProgressReporter",
    "Sketch",
    "SketchError",
    "TensorInfo",
    "WeightFile",
    "WeightReader",
    "build_sketch",
    "compare_sketches",
    "fingerprint_path",
    "fingerprint_source",
    "gguf_arrays",
    "onnx_arrays",
    "open_model",
    "sketch_path",
    "sketch_source",
    "supported_formats",
    "tensor_digest",
    "variant_digest",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from registry.weights.compare import Comparison, compare_sketches
    from registry.weights.digests import (
        NullProgress,
        ProgressReporter,
        tensor_digest,
        variant_digest,
    )
    from registry.weights.fingerprint import fingerprint_path, fingerprint_source
    from registry.weights.gguf_arrays import gguf_arrays
    from registry.weights.gguf_reader import GGUFReader
    from registry.weights.onnx_reader import OnnxReader, OnnxSource, onnx_arrays
    from registry.weights.reader import (
        ModelSource,
        TensorInfo,
        WeightFile,
        WeightReader,
        open_model,
        supported_formats,
    )
    from registry.weights.sketch import Sketch
    from registry.weights.sketch_build import SketchError, build_sketch
    from registry.weights.sketching import sketch_path, sketch_source
