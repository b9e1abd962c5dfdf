"""The zoo generator itself: deterministic for a seed, and it writes every model the fixture has.

Runs the real recipe with a few training steps (needs the ``zoo`` extra: torch).
"""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from scripts.zoo import build  # noqa: E402
from scripts.zoo.train import TrainPlan  # noqa: E402
from scripts.zoo.truth import load_manifest  # noqa: E402

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "zoo" / "manifest.json"


@pytest.fixture
def quick_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        build.PLANS, "tiny", TrainPlan(4, 4, 3e-3, 2, 1e-3, 2, 3e-3, eval_windows=4)
    )


def test_generation_is_deterministic(tmp_path: Path, quick_plan: None) -> None:
    first = build.build_zoo(tmp_path / "one", "tiny", 4, seed=3, log=lambda _: None)
    second = build.build_zoo(tmp_path / "two", "tiny", 4, seed=3, log=lambda _: None)
    assert first == second
    assert (tmp_path / "one" / "manifest.json").read_bytes() == (
        tmp_path / "two" / "manifest.json"
    ).read_bytes()
    for e in first:
        if e["format"] != "safetensors":
            a = (tmp_path / "one" / e["path"]).read_bytes()
            assert a == (tmp_path / "two" / e["path"]).read_bytes(), e["id"]
    if FIXTURE.exists():
        assert [e["id"] for e in first] == [e["id"] for e in load_manifest(FIXTURE)]
    other = build.build_zoo(tmp_path / "three", "tiny", 4, seed=4, log=lambda _: None)
    assert other[0]["weights_sha256"] != first[0]["weights_sha256"]
