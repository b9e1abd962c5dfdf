"""`provreg identify` and lineage detected at registration, locally and over HTTP."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import CliRunner
from tests.factories import finetuned, quantized_int8, tiny_tensors, write_model


def test_identify_finds_parent_exact_copy_and_nothing_for_strangers(
    provreg: CliRunner, tmp_path: Path
) -> None:
    base = tiny_tensors(1)
    assert (
        provreg("register", write_model(tmp_path / "base", base), "--name", "acme/base").code == 0
    )

    copy = write_model(tmp_path / "copy", {k.upper(): v for k, v in base.items()}, shards=2)
    doc = provreg("identify", copy, "--json").json()
    assert doc["query"]["format"] == "safetensors" and doc["query"]["digest"].startswith("sha256:")
    top = doc["matches"][0]
    assert (top["name"], top["verdict"], top["false_positive_rate"]) == (
        "acme/base",
        "identical",
        0,
    )

    tuned = write_model(tmp_path / "tuned", finetuned(base, seed=3))
    top = provreg("identify", tuned, "--json").json()["matches"][0]
    assert (top["name"], top["verdict"], top["relation"]) == ("acme/base", "derived", "finetune")
    assert top["false_positive_rate"] < 1e-6
    assert {"coverage", "mean_record_r", "signature_cosine"} <= set(top["evidence"])

    quantized = write_model(tmp_path / "q8", quantized_int8(base))
    top = provreg("identify", quantized, "--json").json()["matches"][0]
    assert (top["verdict"], top["relation"], top["direction"]) == (
        "derived",
        "quantized",
        "query_is_child",
    )

    stranger = write_model(tmp_path / "stranger", tiny_tensors(42))
    assert provreg("identify", stranger, "--json").json()["matches"] == []
    listed = provreg("identify", stranger, "--all", "--json").json()["matches"]
    assert all(m["verdict"] == "unrelated" for m in listed)
    human = provreg("identify", tuned)
    assert human.code == 0 and "acme/base@main" in human.out and "derived" in human.out


def test_undeclared_derivative_gets_a_detected_edge(provreg: CliRunner, tmp_path: Path) -> None:
    base = tiny_tensors(5)
    provreg("register", write_model(tmp_path / "base", base), "--name", "acme/base")
    doc = provreg(
        "register",
        write_model(tmp_path / "q", quantized_int8(base)),
        "--name",
        "anon/base-int8",
        "--json",
    ).json()
    assert [(e["parent"], e["relation"], e["source"], e["status"]) for e in doc["lineage"]] == [
        ("acme/base@main", "quantized", "detected", "detected")
    ]
    graph = provreg("lineage", "acme/base", "--down", "--json").json()
    assert [(e["child"], e["source"]) for e in graph["edges"]] == [
        ("anon/base-int8@main", "detected")
    ]
    assert graph["edges"][0]["score"] > 0.9


def test_identify_rejects_a_forged_sketch_over_http(http) -> None:  # type: ignore[no-untyped-def]
    r = http.post("/v1/identify", json={"sketch": "bm90IGEgc2tldGNo"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "sketch_invalid"
