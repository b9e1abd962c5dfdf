"""Adapter releases through the CLI: the declared base checked, merged models named."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.cli.conftest import CliRunner
from tests.peft_models import REALZOO, LoraRelease


def _register(provreg: CliRunner, path: Path, name: str, *extra: str) -> dict[str, Any]:
    r = provreg("register", path, "--name", name, *extra, "--json")
    assert r.code == 0, r.err
    doc: dict[str, Any] = r.json()
    return doc


def _edges(doc: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [(e["parent"], e["relation"], e["source"], e["status"]) for e in doc["lineage"]]


def test_an_adapter_is_checked_against_its_base_and_merged_models_name_it(
    provreg: CliRunner, lora_releases: dict[str, LoraRelease]
) -> None:
    _register(provreg, REALZOO / "llama-b0", "acme/base")
    a = _register(provreg, lora_releases["a"].adapter, "acme/lora-a", "--parent", "acme/base")
    assert _edges(a) == [("acme/base@main", "adapter", "declared", "verified")]
    assert a["sketch_digest"] is None  # an adapter is no model: no model sketch
    assert a["adapter_digest"].startswith("sha256:")
    evidence = a["lineage"][0]["evidence"]
    assert evidence["verdict"] == "fits" and evidence["targets"] == 6
    assert evidence["target_modules"] == ["down_proj", "q_proj", "v_proj"]
    _register(provreg, lora_releases["b"].adapter, "acme/lora-b", "--parent", "acme/base")

    merged = _register(provreg, lora_releases["a"].merged, "acme/merged-a")
    assert _edges(merged) == [("acme/base@main", "adapter", "detected", "detected")]
    assert merged["lineage"][0]["evidence"]["adapter"] == "acme/lora-a@main"

    r = provreg("identify", lora_releases["b"].merged, "--json")
    assert r.code == 0, r.err
    matches = {m["name"]: m for m in r.json()["matches"]}
    assert matches["acme/base"]["relation"] == "adapter"
    assert matches["acme/base"]["evidence"]["adapter"] == "acme/lora-b@main"

    # null: a full fine-tune of the base and the same recipe on a kin model name no adapter
    for path in (REALZOO / "llama-b0-ft12-bf16", lora_releases["kin"].merged):
        r = provreg("identify", path, "--json")
        assert r.code == 0, r.err
        for m in r.json()["matches"]:
            assert "adapter" not in m["evidence"], (path.name, m)
            assert m["relation"] != "adapter", (path.name, m)


def test_an_adapter_on_the_wrong_base_is_disputed_and_a_late_base_verifies_it(
    provreg: CliRunner, lora_releases: dict[str, LoraRelease], tmp_path: Path
) -> None:
    _register(provreg, REALZOO / "gpt2-b0", "acme/gpt2")
    wrong = _register(provreg, lora_releases["a"].adapter, "acme/lora", "--parent", "acme/gpt2")
    assert _edges(wrong) == [("acme/gpt2@main", "adapter", "declared", "disputed")]
    (reason,) = wrong["lineage"][0]["evidence"]["reasons"]
    assert "is a matrix of the base" in reason and "32x64" in reason

    # the base named in adapter_config.json is declared when it is a registry name; before
    # the base's weights are registered the edge waits, then the base's arrival checks it
    early = tmp_path / "early"
    shutil.copytree(lora_releases["a"].adapter, early)
    config = json.loads((early / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = "acme/base"
    (early / "adapter_config.json").write_text(json.dumps(config))
    first = _register(provreg, early, "acme/early")
    assert _edges(first) == [("acme/base@main", "adapter", "declared", "unverified")]
    base = _register(provreg, REALZOO / "llama-b0", "acme/base")
    children = [(c["child"], c["relation"], c["status"]) for c in base["children"]]
    assert children == [("acme/early@main", "adapter", "verified")]
