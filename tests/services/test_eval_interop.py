"""Results files and cards as the ecosystem's tools write them: lm-eval groups, NaN metrics,
cards whose model-index has no results, the Hub's .eval_results, relations the Hub infers."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from registry.names import parse_ref
from registry.services import register_variant
from registry.services.evals.formats import read_results
from registry.services.evals.results import import_results, list_results
from registry.services.safeguards.policy import load_policy
from registry.services.variants.cards import declared_parents_from_card, infer_relation
from schemas import EvalImport
from tests.factories import variant_request

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "evals"
POLICY = load_policy()


def test_lm_eval_groups_aliases_and_non_finite_metrics(session: Session) -> None:
    register_variant(session, variant_request("acme/chat"))
    content = (FIXTURES / "lm_eval_0_4_13_groups.json").read_text()
    out = import_results(session, parse_ref("acme/chat"), EvalImport(content=content), POLICY)
    got = {(r.benchmark, r.metric): r for r in out.results}
    # the group's value keeps its sample count from sample_count; subtasks lose their " - "
    assert got[("wmdp", "acc")].samples == 3668
    assert got[("wmdp_bio", "acc")].samples == 1273 and got[("wmdp_bio", "acc")].task == "wmdp_bio"
    assert {b for b, _ in got} == {"wmdp", "wmdp_bio", "wmdp_chem", "wmdp_cyber", "truthfulqa_gen"}
    # NaN and Infinity metrics are skipped and named; a NaN stderr is dropped, not the metric
    assert ("truthfulqa_gen", "bleu_acc") not in got
    assert ("truthfulqa_gen", "rouge1_max") not in got
    assert got[("truthfulqa_gen", "bleu_max")].stderr is None
    assert len(out.warnings) == 2
    assert any("results.truthfulqa_gen.bleu_acc,none" in w for w in out.warnings)
    assert out.imported == 5
    assert len(list_results(session, parse_ref("acme/chat")).results) == 5


def test_a_file_with_only_non_finite_metrics_is_still_refused() -> None:
    import pytest

    from registry.errors import EvalFileInvalid

    with pytest.raises(EvalFileInvalid) as info:
        read_results('{"results": {"t": {"acc,none": NaN}}}')
    assert "no numeric metric" in info.value.message


def test_model_index_without_results_is_valid() -> None:
    card = "---\nmodel-index:\n- name: acme-chat\n  results: []\n---\n# card\n"
    fmt, results, warnings = read_results(card, filename="README.md")
    assert (fmt, results) == ("model-index", [])
    assert warnings == ["model-index lists no results"]
    # an entry without results beside one with results reads the one that has them
    card = (
        "model-index:\n- name: a\n  results: []\n- name: b\n  results:\n"
        "  - task: {type: text-generation}\n    dataset: {type: walledai/HarmBench, name: HB}\n"
        "    metrics: [{type: asr, value: 0.2}]\n"
    )
    _, results, _ = read_results(card, filename="card.yaml")
    assert [(r.benchmark, r.metric, r.value) for r in results] == [("HarmBench", "asr", 0.2)]


def test_eval_results_keep_the_org_and_the_verify_token() -> None:
    text = (
        "- dataset: {id: walledai/HarmBench, task_id: harmbench}\n"
        "  value: 0.05\n"
        "  verifyToken: eyJhbGciOiJFZERTQSJ9.e30.sig\n"
        "  source: {url: 'https://example.org/run/7', name: Eval run, user: alice, org: red-team}\n"
    )
    _, results, _ = read_results(text, filename="harmbench.yaml")
    (result,) = results
    assert result.evaluator == "red-team"
    assert result.settings is not None
    assert result.settings["verify_token"] == "eyJhbGciOiJFZERTQSJ9.e30.sig"
    assert result.settings["source_name"] == "Eval run"


def _card(directory: Path, front: str, *files: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name in files:
        (directory / name).write_bytes(b"")
    card = directory / "README.md"
    card.write_text(f"---\n{front}\n---\n# model\n", encoding="utf-8")
    return card


def test_relation_inferred_as_the_hub_does(tmp_path: Path) -> None:
    one = "base_model: acme/base"
    gguf = _card(tmp_path / "gguf", one, "model-Q4_K_M.gguf")
    assert declared_parents_from_card(gguf)[0].relation == "quantized"
    adapter = _card(tmp_path / "lora", one, "adapter_config.json", "adapter_model.safetensors")
    assert declared_parents_from_card(adapter)[0].relation == "adapter"
    merged = _card(tmp_path / "merge", "base_model: [acme/a, acme/b]", "model.safetensors")
    assert {p.relation for p in declared_parents_from_card(merged)} == {"merge"}
    plain = _card(tmp_path / "ft", one, "model.safetensors", "config.json")
    assert declared_parents_from_card(plain)[0].relation == "finetune"
    gptq = tmp_path / "gptq"
    card = _card(gptq, one, "model.safetensors")
    (gptq / "config.json").write_text('{"quantization_config": {"quant_method": "gptq"}}')
    assert declared_parents_from_card(card)[0].relation == "quantized"
    # an explicit relation always wins, and the release's own file list overrides the folder's
    explicit = _card(tmp_path / "x", one + "\nbase_model_relation: finetune", "a.gguf")
    assert declared_parents_from_card(explicit)[0].relation == "finetune"
    assert declared_parents_from_card(plain, ["w.gguf"])[0].relation == "quantized"
    assert infer_relation(2, ["adapter_config.json"]) == "adapter"
