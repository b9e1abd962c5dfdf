"""Model files in; exact fingerprints and similarity sketches out, and two sketches into evidence.

Safe readers (safetensors, GGUF, ONNX), streaming digests, sketches and their comparison. Knows
nothing about databases or HTTP; never unpickles anything.
"""

from registry.weights.compare import Comparison, compare_sketches
from registry.weights.digests import (
    NullProgress,
    ProgressReporter,
    tensor_digest,
    variant_digest,
)
from registry.weights.fingerprint import fingerprint_path, fingerprint_source
from registry.weights.gguf_reader import GGUFReader, gguf_arrays
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

__all__ = [
    "Comparison",
    "Sketch",
    "SketchError",
    "build_sketch",
    "compare_sketches",
    "sketch_path",
    "sketch_source",
    "GGUFReader",
    "OnnxReader",
    "OnnxSource",
    "gguf_arrays",
    "onnx_arrays",
    "ModelSource",
    "NullProgress",
    "ProgressReporter",
    "TensorInfo",
    "WeightFile",
    "WeightReader",
    "fingerprint_path",
    "fingerprint_source",
    "open_model",
    "supported_formats",
    "tensor_digest",
    "variant_digest",
]
