"""`provreg register`, `show` and `lineage` end to end through the CLI, locally and over HTTP."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import numpy as np

from tests.cli.conftest import CliRunner
from tests.factories import finetuned, tiny_tensors, write_model


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_register_json_matches_the_interface(provreg: CliRunner, tmp_path: Path) -> None:
    model = write_model(tmp_path / "base", tiny_tensors(1))
    r = provreg("register", model, "--name", "acme/base", "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert {"name", "revision", "digest", "format", "parameters", "files", "lineage"} <= set(doc)
    assert doc["name"] == "acme/base" and doc["revision"] == "main"
    assert doc["format"] == "safetensors" and doc["digest"].startswith("sha256:")
    assert doc["parameters"] == sum(t.size for t in tiny_tensors(1).values())
    files = {f["path"]: f for f in doc["files"]}
    weights = model / "model.safetensors"
    assert files["model.safetensors"] == {
        "path": "model.safetensors",
        "size": weights.stat().st_size,
        "sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
    }
    assert doc["lineage"] == []


def test_declared_parents_and_lineage_formats(provreg: CliRunner, tmp_path: Path) -> None:
    base = write_model(tmp_path / "base", tiny_tensors(1))
    chat = write_model(tmp_path / "chat", finetuned(tiny_tensors(1), seed=2))
    assert provreg("register", base, "--name", "acme/base", "--revision", "v1").code == 0
    r = provreg(
        "register",
        chat,
        "--name",
        "acme/chat",
        "--parent",
        "acme/base@v1",
        "--relation",
        "finetune",
        "--json",
    )
    assert r.code == 0, r.err
    edge = r.json()["lineage"][0]
    assert {k: edge[k] for k in ("parent", "relation", "source", "status")} == {
        "parent": "acme/base@v1",
        "relation": "finetune",
        "source": "declared",
        "status": "verified",
    }
    assert edge["score"] > 0.9
    g = provreg("lineage", "acme/chat", "--format", "json").json()
    assert g["root"] == "acme/chat@main"
    assert [(e["child"], e["parent"], e["relation"]) for e in g["edges"]] == [
        ("acme/chat@main", "acme/base@v1", "finetune")
    ]
    assert {"name", "revision", "digest"} <= set(g["nodes"][0])
    dot = provreg("lineage", "acme/base@v1", "--down", "--format", "dot").out
    assert dot.startswith("digraph") and '"acme/base@v1" -> "acme/chat@main"' in dot
    mermaid = provreg("lineage", "acme/chat", "--up", "--format", "mermaid").out
    assert mermaid.startswith("graph TD") and "finetune" in mermaid
    tree = provreg("lineage", "acme/base@v1")
    assert tree.code == 0 and "acme/chat@main" in tree.out and "descendants" in tree.out
    assert provreg("lineage", "acme/chat", "--up", "--down").code == 2


def test_declared_parent_the_weights_contradict_is_disputed(
    provreg: CliRunner, tmp_path: Path
) -> None:
    base = write_model(tmp_path / "base", tiny_tensors(1))
    stranger = write_model(tmp_path / "stranger", tiny_tensors(99))
    assert provreg("register", base, "--name", "acme/base").code == 0
    doc = provreg(
        "register",
        stranger,
        "--name",
        "acme/claims-base",
        "--parent",
        "acme/base",
        "--relation",
        "finetune",
        "--json",
    ).json()
    edge = doc["lineage"][0]
    assert (edge["source"], edge["status"]) == ("declared", "disputed")
    assert edge["evidence"]["verdict"] == "unrelated"


def test_card_declares_parents(provreg: CliRunner, tmp_path: Path) -> None:
    model = write_model(tmp_path / "merge", tiny_tensors(3))
    card = model / "README.md"
    card.write_text("---\nbase_model: [acme/a, acme/b]\nbase_model_relation: merge\n---\n# m\n")
    doc = provreg("register", model, "--name", "acme/merge", "--card", card, "--json").json()
    assert sorted((e["parent"], e["relation"]) for e in doc["lineage"]) == [
        ("acme/a@main", "merge"),
        ("acme/b@main", "merge"),
    ]
    assert any(f["path"] == "README.md" for f in doc["files"])


def test_renamed_resharded_copy_keeps_the_digest(provreg: CliRunner, tmp_path: Path) -> None:
    tensors = tiny_tensors(4)
    original = write_model(tmp_path / "orig", tensors)
    renamed = {k.replace("model.", "transformer."): v for k, v in tensors.items()}
    copy = write_model(tmp_path / "copy", renamed, shards=3)
    changed = {k: v.copy() for k, v in tensors.items()}
    changed["model.layers.0.mlp.up_proj.weight"][3, 5] += np.float32(1e-3)
    edited = write_model(tmp_path / "edited", changed)
    d1 = provreg("register", original, "--name", "acme/orig", "--json").json()["digest"]
    d2 = provreg("register", copy, "--name", "acme/copy", "--json").json()["digest"]
    d3 = provreg("register", edited, "--name", "acme/edited", "--json").json()["digest"]
    assert d1 == d2
    assert d3 != d1


def test_immutable_revision(provreg: CliRunner, tmp_path: Path) -> None:
    a = write_model(tmp_path / "a", tiny_tensors(5))
    b = write_model(tmp_path / "b", tiny_tensors(6))
    assert provreg("register", a, "--name", "acme/m").code == 0
    same = provreg("register", a, "--name", "acme/m", "--json")
    assert same.code == 0 and same.json()["created"] is False
    clash = provreg("register", b, "--name", "acme/m")
    assert clash.code == 1
    assert "already registered" in _one_line(clash.err) and "--revision" in clash.err


def test_malformed_safetensors_is_refused_and_nothing_stored(
    provreg: CliRunner, tmp_path: Path
) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 12]}}).encode()
    (bad / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 12)
    r = provreg("register", bad, "--name", "acme/bad", "--json")
    assert r.code == 1
    line = _one_line(r.err)
    assert "model.safetensors" in line
    assert r.json()["error"]["code"] == "header_malformed"
    assert provreg("show", "acme/bad").code == 1


def test_pickle_is_refused_and_never_loaded(provreg: CliRunner, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (open, (str(marker), "w"))

    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "pytorch_model.bin").write_bytes(pickle.dumps(Exploit()))
    r = provreg("register", legacy, "--name", "acme/legacy")
    assert r.code == 1
    assert "safetensors" in _one_line(r.err)
    assert not marker.exists()
    assert provreg("show", "acme/legacy").code == 1


def test_usage_and_lookup_errors(provreg: CliRunner, tmp_path: Path) -> None:
    model = write_model(tmp_path / "m", tiny_tensors(7))
    r = provreg("register", model, "--name", "acme/x", "--parent", "acme/p")
    assert r.code == 2
    r = provreg("register", model, "--name", "not-a-name")
    assert r.code == 1 and "namespace/name" in _one_line(r.err)
    r = provreg("show", "acme/nothing@v2", "--json")
    assert r.code == 1
    assert r.json()["error"]["code"] == "variant_not_found"
    r = provreg("register", tmp_path / "missing", "--name", "acme/x")
    assert r.code == 1 and "missing" in _one_line(r.err)


def test_show_human_output(provreg: CliRunner, tmp_path: Path) -> None:
    model = write_model(tmp_path / "m", tiny_tensors(8))
    provreg(
        "register", model, "--name", "acme/m", "--parent", "up/stream", "--relation", "finetune"
    )
    out = provreg("show", "acme/m").out
    assert "acme/m@main" in out and "model.safetensors" in out and "up/stream@main" in out
    # each parent's relation, source and status are shown, not swallowed as markup
    assert "up/stream@main  [finetune, declared, unverified]" in out
    placeholder = provreg("show", "up/stream").out
    assert "known only by name" in placeholder
    assert "acme/m@main  [finetune, declared, unverified]" in placeholder


def test_hostile_release_files_are_one_line_errors_and_store_nothing(
    provreg: CliRunner, tmp_path: Path
) -> None:
    model = write_model(tmp_path / "deep", tiny_tensors(seed=3))
    (model / "config.json").write_text('{"a": ' + "[" * 1200 + "]" * 1200 + "}")
    r = provreg("register", model, "--name", "acme/deep", "--json")
    assert r.code == 1
    assert "config.json" in _one_line(r.err)
    assert r.json()["error"]["code"] == "config_malformed"

    linked = write_model(tmp_path / "linked", tiny_tensors(seed=4))
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the registry\n")
    (linked / "README.md").symlink_to(secret)
    r = provreg("register", linked, "--name", "acme/linked", "--json")
    assert r.code == 1
    assert "README.md" in _one_line(r.err)
    assert r.json()["error"]["code"] == "file_outside_model"
    for name in ("acme/deep", "acme/linked"):
        assert provreg("show", name).code == 1
