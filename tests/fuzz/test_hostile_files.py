"""Each named hostile input of the corpus is refused with its own error class and a one-line
message naming the file and the fault; valid inputs (links inside the directory, a Hugging Face
cache snapshot) are read. No file outside the model's directory is ever opened."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.corpus import SECRET, Case, corpus
from tests.fuzz.harness import run_case

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
