"""Each named hostile input of the corpus is refused with its own error class and a one-line
message naming the file and the fault; valid inputs (links inside the directory, a Hugging Face
cache snapshot) are read. No file outside the model's directory is ever opened."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from registry.errors import SketchInvalid, WeightsError
from registry.services.identify.sketch_index import decode_sketch
from registry.weights import open_model
from registry.weights.sketch_build import build_sketch
from registry.weights.sketching import ARRAY_ADAPTERS, sketch_source
from tests.fuzz.corpus import SECRET, Case, corpus
from tests.fuzz.harness import run_case

# Sketching weights that hold NaN warns before it is refused.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
NAMED = [c for c in corpus("ci") if c.kind not in ("mutation", "slow")]


@pytest.mark.parametrize("case", NAMED, ids=[c.name for c in NAMED])
def test_named_input(tmp_path: Path, case: Case) -> None:
    outcome = run_case(case, tmp_path, None)
    assert outcome.faults(case) == []
    if case.error is not None:
        file_named = outcome.message.split(":", 1)[0]
        assert file_named.endswith((".json", ".safetensors", ".gguf", ".onnx", ".md", "sub"))


def test_secret_behind_a_link_is_never_opened(tmp_path: Path) -> None:
    (case,) = [c for c in NAMED if c.name == "link/README.md"]
    outcome = run_case(case, tmp_path, None)
    assert outcome.answer == "file_outside_model"
    assert outcome.message.startswith("README.md: a link to ")
    assert (tmp_path / "outside" / "shadow").read_bytes() == SECRET
    assert outcome.read_outside == []


def test_weights_holding_nan_are_registered_without_a_sketch(tmp_path: Path) -> None:
    """A sketch of NaN weights would break every comparison it meets: none is made, and one
    sent over the wire is refused."""
    (case,) = [c for c in NAMED if c.name == "valid/nan-weights"]
    source = open_model(case.build(tmp_path))
    with pytest.raises(WeightsError, match="NaN or infinite values"):
        sketch_source(source)
    sketch = build_sketch(ARRAY_ADAPTERS["safetensors"](source), parameters=1)
    with pytest.raises(SketchInvalid, match="NaN or infinite values"):
        decode_sketch(base64.b64encode(sketch.to_bytes()).decode())


def test_only_files_named_like_shards_must_be_in_the_index(tmp_path: Path) -> None:
    (case,) = [c for c in NAMED if c.name == "valid/sharded-beside-consolidated"]
    source = open_model(case.build(tmp_path))
    assert [f.name for f in source.files] == [
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
    ]
