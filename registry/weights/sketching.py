"""Sketch a model on disk: open it, adapt its tensors for reading slices, build the sketch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from registry.errors import WeightsError
from registry.weights.arrays import ArrayTensor, safetensors_arrays
from registry.weights.gguf_arrays import gguf_arrays
from registry.weights.onnx_reader import onnx_arrays
from registry.weights.reader import DEFAULT_MAX_HEADER_BYTES, ModelSource, open_model
from registry.weights.sketch import Sketch
from registry.weights.sketch_build import SketchError, build_sketch
from registry.weights.validation import nonfinite_part

# Each format names how its tensors become float arrays; GGUF and ONNX readers register here.
ARRAY_ADAPTERS: dict[str, Callable[[ModelSource], list[ArrayTensor]]] = {
    "safetensors": safetensors_arrays,
    "gguf": gguf_arrays,
    "onnx": onnx_arrays,
}


def sketch_source(source: ModelSource) -> Sketch:
    """The similarity sketch of an opened model; raises :class:`WeightsError` if it has none."""
    adapter = ARRAY_ADAPTERS.get(source.format)
    if adapter is None:
        raise WeightsError(f"cannot sketch {source.format} models yet")
    tensors = adapter(source)
    parameters = sum(t.numel for t in source.tensors)
    try:
        sketch = build_sketch(tensors, parameters=parameters)
    except SketchError as exc:
        raise WeightsError(
            f"{source.root}: {exc}",
            hint="provreg sketches language models with a vocabulary (embedding) matrix",
        ) from None
    if (part := nonfinite_part(sketch)) is not None:
        raise WeightsError(
            f"{source.root}: the weights hold NaN or infinite values ({part}); no sketch",
            hint="exact digests are still recorded; check the model's weights",
        )
    return sketch


def sketch_path(path: Path, *, max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES) -> Sketch:
    """Open ``path`` and sketch it."""
    return sketch_source(open_model(path, max_header_bytes=max_header_bytes))
