"""Model files in, exact fingerprints out: safe readers (safetensors, GGUF, ONNX)
and streaming digests. Knows nothing about databases or HTTP; never unpickles anything.
"""

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

__all__ = [
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
