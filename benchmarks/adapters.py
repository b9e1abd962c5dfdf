"""Adapter releases: is a merged model named as "base + this adapter", and never wrongly?

What it measures
    Real LoRA adapters made with PEFT (``tests/peft_models.py``) on the real-tools zoo's tiny
    llama and qwen2 bases, with several recipes (targets, rank, rsLoRA, seeds), each saved and
    merged with ``merge_and_unload`` (and the merge cast to bf16, as releases often are).

    * recall: the merged model compared with its base is ``derived`` and, of every adapter
      registered on that base, its own adapter is the one whose delta explains the change
      (``merged_fit``), as ``identify`` and ``register`` report it;
    * false attribution: a merged model explained by another adapter on the same base, or a
      full fine-tune of the base explained by any adapter;
    * false lineage: merged models against independently trained models (``derived`` or
      ``related`` is false) and against kin of the base that share only its embeddings or
      first layer (``derived`` is false).

Run: ``python -m benchmarks.adapters --zoo .bench/realzoo`` (the zoo from
``python -m scripts.realzoo --out .bench/realzoo --null 6 --kin 4 --archs llama,qwen2``).
Writes the "Adapter releases" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from benchmarks._report import Figure, command_line, markdown_table, write_section
from registry.weights import compare_sketches, open_model, sketch_path
from registry.weights.adapter import AdapterSketch, sketch_adapter
from registry.weights.adapter_match import MERGED_FIT, merged_fit
from registry.weights.sketch import Sketch
from tests.peft_models import LoraRecipe, LoraRelease, build_lora

TITLE = "Adapter releases"
RECIPES = [
    ("q,v r2", {"targets": ("q_proj", "v_proj"), "rank": 2, "alpha": 4}),
    ("q,v,down r4", {}),
    ("all 7 r8", {"targets": ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                              "up_proj", "down_proj"), "rank": 8, "alpha": 16}),
    ("q,v,down r16 rsLoRA", {"rank": 16, "alpha": 16, "rslora": True}),
]  # fmt: skip
BASES = ("llama-b0", "qwen2-b0")
SEEDS = (1, 2)


def _bf16(merged: Path, out: Path) -> Path:
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(merged).to(torch.bfloat16)
    model.save_pretrained(out)
    return out


def _models(zoo: Path, prefix: str) -> list[Path]:
    return sorted(p for p in zoo.iterdir() if p.is_dir() and p.name.startswith(prefix))


def _attributed(query: Sketch, base: Sketch, adapters: dict[str, AdapterSketch]) -> str | None:
    fits = {
        name: fit["residual"]
        for name, a in adapters.items()
        if (fit := merged_fit(a, base, query)) is not None and fit["fits"]
    }
    return min(fits, key=lambda n: fits[n]) if fits else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zoo", type=Path, default=Path(".bench/realzoo"))
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="provreg-adapters-"))
    zoo: Path = args.zoo
    rows, recall_hits, recall_total = [], 0, 0
    bf16_hits = false_attr = attr_checks = 0
    merged_sketches: list[tuple[str, str, Sketch]] = []
    for base_id in [b for b in BASES if (zoo / b).is_dir()]:
        base = sketch_path(zoo / base_id)
        adapters: dict[str, AdapterSketch] = {}
        merged: dict[str, tuple[Sketch, Sketch]] = {}
        for label, kw in RECIPES:
            for seed in SEEDS:
                name = f"{base_id} {label} seed {seed}"
                recipe = LoraRecipe(base_id, seed=seed, **kw)  # type: ignore[arg-type]
                recipe = replace(recipe, zoo=zoo)
                out = work / name.replace(" ", "_").replace(",", "")
                release = LoraRelease(out / "adapter", out / "merged")
                if not (release.merged / "model.safetensors").exists():  # --workdir reused
                    release = build_lora(recipe, out)
                adapters[name] = sketch_adapter(release.adapter, open_model(release.adapter))
                as_bf16 = out / "merged-bf16"
                if not (as_bf16 / "model.safetensors").exists():
                    _bf16(release.merged, as_bf16)
                merged[name] = (sketch_path(release.merged), sketch_path(as_bf16))
                print(f"built {name}", file=sys.stderr, flush=True)
        for name, (query, query_bf16) in merged.items():
            c = compare_sketches(query, base)
            got = _attributed(query, base, adapters) if c.verdict == "derived" else None
            got16 = _attributed(query_bf16, base, adapters)
            fit = merged_fit(adapters[name], base, query) or {}
            fit16 = merged_fit(adapters[name], base, query_bf16) or {}
            recall_total += 1
            recall_hits += got == name
            bf16_hits += got16 == name
            rows.append((name, c.verdict, c.relation, fit.get("residual"), got == name,
                         fit16.get("residual"), got16 == name))  # fmt: skip
            for other, adapter in adapters.items():
                if other != name:
                    attr_checks += 1
                    f = merged_fit(adapter, base, query)
                    false_attr += bool(f and f["fits"])
            merged_sketches.append((base_id, name, query))
        for tuned in _models(zoo, f"{base_id}-ft"):
            if tuned.suffix:
                continue
            t = sketch_path(tuned)
            for adapter in adapters.values():
                attr_checks += 1
                f = merged_fit(adapter, base, t)
                false_attr += bool(f and f["fits"])
    independent = [
        p for p in zoo.iterdir()
        if p.is_dir() and p.name.count("-") == 1 and p.name.split("-")[1][:1] in ("n", "b")
        and p.name.split("-")[1] != "b0"
    ]  # fmt: skip
    kin = [p for p in _models(zoo, "llama-k") if p.name.count("-") == 1]
    ind_sketches = [(p.name, sketch_path(p)) for p in independent]
    kin_sketches = [(p.name, sketch_path(p)) for p in kin]
    false_ind = ind_pairs = false_kin = kin_pairs = 0
    for base_id, _, query in merged_sketches:
        for other_id, other in ind_sketches:
            if other_id.split("-")[0] != base_id.split("-")[0]:
                continue
            ind_pairs += 1
            false_ind += compare_sketches(query, other).verdict in ("derived", "related")
        for other_id, other in kin_sketches:
            if other_id.split("-")[0] != base_id.split("-")[0]:
                continue
            kin_pairs += 1
            false_kin += compare_sketches(query, other).verdict == "derived"
    figures = [
        Figure("merged models named base + their adapter", f"{recall_hits}/{recall_total}",
               "all", recall_hits == recall_total),
        Figure("merges cast to bf16 named base + their adapter", f"{bf16_hits}/{recall_total}"),
        Figure("false adapter attributions (other adapters on the base, fine-tunes)",
               f"{false_attr}/{attr_checks}", "0", false_attr == 0),
        Figure("false derived/related, merged vs independent models",
               f"{false_ind}/{ind_pairs}", "0", false_ind == 0),
        Figure("false derived, merged vs kin of the base", f"{false_kin}/{kin_pairs}", "0",
               false_kin == 0),
    ]  # fmt: skip
    details = markdown_table(
        ["merged model", "verdict vs base", "relation before naming", "fit residual", "named",
         "bf16 fit residual", "bf16 named"],
        [[n, v, r, f, "yes" if ok else "no", f16, "yes" if ok16 else "no"]
         for n, v, r, f, ok, f16, ok16 in rows],
    )  # fmt: skip
    details += (
        f"\n\nA fit residual is the change from the base left unexplained by the adapter's "
        f"delta, relative to that delta, over every compared raw block (named at <= "
        f"{MERGED_FIT}). Kin and independent models: "
        + ", ".join(p.name for p in sorted(kin + independent))
        + "."
    )
    out = write_section(
        TITLE,
        command=command_line("benchmarks.adapters"),
        figures=figures,
        summary="PEFT LoRA adapters on the real-tools zoo's bases: merged models named as "
        "base + adapter, and the nulls.",
        details=details,
    )
    print(f"wrote {out}", file=sys.stderr)
    return 0 if all(f.met is not False for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
