"""Model files in, exact fingerprints out: safe readers (safetensors now; GGUF and ONNX later)
and streaming digests. Knows nothing about databases or HTTP; never unpickles anything.
"""

from registry.weights.digests import (
    NullProgress,
    ProgressReporter,
    tensor_digest,
    variant_digest,
)
from registry.weights.fingerprint import fingerprint_path, fingerprint_source
from registry.weights.reader import (
    ModelSource,
    TensorInfo,
    WeightFile,
    WeightReader,
    open_model,
    supported_formats,
)

__all__ = [
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
