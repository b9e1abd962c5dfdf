"""Verdicts do not change with the container.

Each committed zoo model stored as safetensors is re-saved (numpy only, ``scripts.realzoo.resave``)
three ways: safetensors with shuffled obfuscated names, ONNX with exporter-style initializer
names in a random order, and llama.cpp-style GGUF (F32, q/k rows permuted for rotary, GPT-2
Conv1D weights transposed). The copy holds the same values, so compared with the original it
must come back ``derived`` / ``repackaged`` (what the original gives compared with itself), and
its verdict and relation against each of the original's parents must be the original's own.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from registry.weights.compare import compare_sketches
from registry.weights.sketch import Sketch
from scripts.realzoo.resave import as_gguf, as_onnx, shuffled_safetensors
from scripts.zoo.evaluate import fingerprint_with_sketch
from scripts.zoo.truth import DERIVATIONS, load_manifest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ZOOS = [FIXTURES / "zoo", FIXTURES / "realzoo"]
CONTAINERS = ("shuffled-safetensors", "onnx", "gguf")
# A rotation is seen through views of the matrices stored with the residual stream as columns;
# ONNX stores MatMul weights transposed, so a rotated model exported to ONNX is not recognised
# (it reads unrelated to the parent, as it did before rotations were; README, known limits).
ROTATED_ONNX = pytest.mark.xfail(
    strict=True, reason="rotation views need the residual axis as columns; ONNX transposes"
)


def _cases() -> list:
    cases = []
    for zoo in ZOOS:
        if not (zoo / "manifest.json").exists():
            continue
        for e in load_manifest(zoo):
            if e["format"] != "safetensors" or not (zoo / e["path"] / "config.json").exists():
                continue
            for container in CONTAINERS:
                key = (zoo.name, e["id"], container)
                marks = []
                if e["transformation"] == "obfuscated-rotated" and container == "onnx":
                    marks = [ROTATED_ONNX]
                cases.append(
                    pytest.param(*key, id=f"{zoo.name}:{e['id']}:{container}", marks=marks)
                )
    return cases


@cache
def _sketch(path: Path) -> Sketch:
    return fingerprint_with_sketch(path)[1]


def _resave(model_dir: Path, container: str, out: Path) -> Path:
    tensors = {k: np.asarray(v) for k, v in load_file(str(model_dir / "model.safetensors")).items()}
    if container == "shuffled-safetensors":
        return shuffled_safetensors(tensors, out / "shuffled", seed=7)
    if container == "onnx":
        return as_onnx(tensors, out / "model.onnx", seed=7)
    config = json.loads((model_dir / "config.json").read_text())
    return as_gguf(tensors, config, out / "model.gguf")


@pytest.mark.parametrize(("zoo", "model_id", "container"), _cases())
def test_verdicts_do_not_change_with_the_container(
    zoo: str, model_id: str, container: str, tmp_path: Path
) -> None:
    root = FIXTURES / zoo
    entries = {e["id"]: e for e in load_manifest(root)}
    e = entries[model_id]
    copy = _sketch(_resave(root / e["path"], container, tmp_path))
    original = _sketch(root / e["path"])
    same = compare_sketches(copy, original)
    assert (same.verdict, same.relation) == ("derived", "repackaged"), same.evidence
    for p in e["parents"]:
        if p["relation"] not in DERIVATIONS:
            continue
        parent = _sketch(root / entries[p["id"]]["path"])
        want = compare_sketches(original, parent)
        got = compare_sketches(copy, parent)
        assert (got.verdict, got.relation) == (want.verdict, want.relation), p["id"]
