"""The zoo recipe: independent base models per architecture, then every kind of derivative.

For each architecture: ``N`` bases trained from scratch with different seeds (init and data
order); from base 0 fine-tunes, LoRA, quantized / converted / cast copies, pruning, layer
dropping, merges, an abliteration edit, vocabulary extension, obfuscation and chains of these;
from base 1 a second, smaller family; and a cousin trained from scratch around base 0's frozen
embeddings. Ground truth goes to ``manifest.json`` (see ``truth.py`` for pair verdicts).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from .context import BuildContext, derive_seed
from .corpus import fixed_windows, load_corpus
from .models import SIZES, ModelConfig
from .obfuscate import obfuscate_bert, obfuscate_llama, verify
from .train import PLANS
from .transforms import (
    abliterate,
    cast,
    drop_layers,
    extend_vocab,
    merge_linear,
    merge_ties,
    prune_magnitude,
)
from .writer import ZooWriter

State = dict[str, torch.Tensor]
_GRID = "quantization grid: {}; "
_EMBEDDINGS = {
    "llama": "model.embed_tokens.weight",
    "bert": "bert.embeddings.word_embeddings.weight",
}


def build_architecture(ctx: BuildContext, cfg: ModelConfig, n_independent: int) -> None:
    """Write every model of one architecture."""
    z, a = ctx.zoo, cfg.arch
    llama = a == "llama"
    bases: dict[int, State] = {}
    base_ids = [f"{a}-b{k}" for k in range(n_independent)]
    for k, bid in enumerate(base_ids):
        bases[k], rec = ctx.train(cfg, bid, None, "pretrain")
        z.add(
            bid,
            cfg,
            bases[k],
            family=bid,
            transformation="pretrain",
            training=rec,
            independent_of=[o for o in base_ids if o != bid],
        )
    b0, fam = bases[0], f"{a}-b0"

    def add(mid: str, state: State, parents: list, transformation: str, **kw) -> None:
        c = kw.pop("cfg", cfg)
        if kw.get("fmt", "safetensors") == "safetensors" and "training" not in kw:
            kw["eval_loss"] = ctx.eval_loss(c, state)
        z.add(
            mid,
            c,
            state,
            family=kw.pop("family", fam),
            transformation=transformation,
            parents=parents,
            **kw,
        )

    ft, rec = ctx.train(cfg, f"{fam}-ft", b0, "finetune", data="finetune_a")
    add(f"{fam}-ft", ft, [(fam, "finetune")], "finetune", training=rec)
    sib, rec = ctx.train(cfg, f"{fam}-ft-sibling", b0, "finetune", data="finetune_b")
    add(f"{fam}-ft-sibling", sib, [(fam, "finetune")], "finetune", training=rec)
    lora, rec = ctx.train(cfg, f"{fam}-lora", b0, "lora", data="finetune_a")
    add(
        f"{fam}-lora",
        lora,
        [(fam, "adapter")],
        "lora-merged",
        training=rec,
        evidence="low-rank delta: parent + rank-8 update on the LoRA target matrices; "
        "every other tensor bit-identical to the parent",
    )

    if llama:
        for q in ("q8_0", "q4_0"):
            add(
                f"{fam}-gguf-{q}",
                b0,
                [(fam, "quantized")],
                f"gguf-{q}",
                fmt="gguf",
                quant=q,
                lossless=False,
                evidence=_GRID.format(f"GGUF {q.upper()} blocks of 32")
                + "llama.cpp names, q/k rows permuted for rotary",
            )
    add(
        f"{fam}-onnx-int8",
        b0,
        [(fam, "quantized")],
        "onnx-int8",
        fmt="onnx",
        quant="int8",
        lossless=False,
        evidence=_GRID.format("int8 per output channel, uint8 embeddings")
        + "renamed initializers, MatMul weights transposed",
    )
    add(
        f"{fam}-onnx-fp32",
        b0,
        [(fam, "repackaged")],
        "onnx-fp32",
        fmt="onnx",
        evidence="none in the values (bit-identical, renamed, MatMul weights transposed)",
    )
    for dt, name in ((torch.float16, "fp16"), (torch.bfloat16, "bf16")):
        add(
            f"{fam}-{name}",
            cast(b0, dt).copy(),
            [(fam, "repackaged")],
            f"cast-{name}",
            dtype=dt,
            evidence=f"reduced precision: every value on the {name} grid",
        )

    pruned = prune_magnitude(b0, a, 0.5)
    add(
        f"{fam}-pruned50",
        pruned,
        [(fam, "pruned")],
        "magnitude-prune-50",
        evidence="exact zeros: 50% of every block matrix is 0.0, the rest bit-identical",
    )
    drop = [cfg.layers // 2] if cfg.layers <= 4 else [cfg.layers // 2, cfg.layers // 2 + 1]
    dropped, dcfg = drop_layers(b0, cfg, drop)
    add(
        f"{fam}-layerdrop",
        dropped,
        [(fam, "pruned")],
        "layer-drop",
        cfg=dcfg,
        dropped_layers=drop,
        evidence=f"layer subset: blocks {drop} removed and renumbered, the rest bit-identical",
    )

    sibs = [(f"{fam}-ft", "merge"), (f"{fam}-ft-sibling", "merge")]
    add(
        f"{fam}-merge-linear",
        merge_linear([ft, sib]),
        sibs,
        "merge-linear",
        evidence="mixture: the element-wise mean of two siblings",
    )
    add(
        f"{fam}-merge-ties",
        merge_ties(b0, [ft, sib], 0.2),
        sibs,
        "merge-ties",
        density=0.2,
        evidence="mixture: base + sparse sign-agreeing deltas of two siblings (TIES, top 20%)",
    )

    r = ctx.abliteration_direction(cfg, b0)
    add(
        f"{fam}-abliterated",
        abliterate(b0, a, r),
        [(fam, "finetune")],
        "abliteration",
        evidence="rank-1 edit: residual-writing matrices and embeddings annihilate one "
        "direction; every other tensor bit-identical",
    )
    ext, ecfg = extend_vocab(b0, cfg, 16, derive_seed(ctx.seed, f"{fam}-vocab"))
    add(
        f"{fam}-vocab-ext",
        ext,
        [(fam, "finetune")],
        "vocab-extension",
        cfg=ecfg,
        evidence="appended rows: 16 new embedding rows past the parent's vocabulary, old rows "
        "bit-identical",
    )

    ids = fixed_windows(ctx.corpus.slices["heldout"], cfg.seq_len, 8)[:, :-1]
    variants = [("obfuscated", False)] + ([("obfuscated-rotated", True)] if llama else [])
    obf: dict[str, State] = {}
    for name, rotate in variants:
        s = derive_seed(ctx.seed, f"{fam}-{name}")
        o = obfuscate_llama(b0, cfg, s, rotate) if llama else obfuscate_bert(b0, cfg, s)
        diff = verify(cfg, b0, o, ids)
        obf[name] = o
        add(
            f"{fam}-{name}",
            o,
            [(fam, "repackaged")],
            name,
            max_logit_diff=diff,
            evidence=None,
            note="function-preserving: permuted residual/heads/MLP units, "
            "paired per-head scaling" + ("; norm gains folded, residual rotated" if rotate else ""),
        )

    if llama:
        add(
            f"{fam}-obfuscated-gguf-q4_1",
            obf["obfuscated"],
            [(f"{fam}-obfuscated", "quantized")],
            "gguf-q4_1",
            fmt="gguf",
            quant="q4_1",
            lossless=False,
            evidence=_GRID.format("GGUF Q4_1 blocks of 32"),
        )
        add(
            f"{fam}-ft-gguf-q8_0",
            ft,
            [(f"{fam}-ft", "quantized")],
            "gguf-q8_0",
            fmt="gguf",
            quant="q8_0",
            lossless=False,
            evidence=_GRID.format("GGUF Q8_0 blocks of 32"),
        )
    else:
        add(
            f"{fam}-obfuscated-onnx-int8",
            obf["obfuscated"],
            [(f"{fam}-obfuscated", "quantized")],
            "onnx-int8",
            fmt="onnx",
            quant="int8",
            lossless=False,
            evidence=_GRID.format("int8 per output channel"),
        )
        add(
            f"{fam}-ft-onnx-int8",
            ft,
            [(f"{fam}-ft", "quantized")],
            "onnx-int8",
            fmt="onnx",
            quant="int8",
            lossless=False,
            evidence=_GRID.format("int8 per output channel"),
        )
    add(
        f"{fam}-pruned50-fp16",
        cast(pruned, torch.float16),
        [(f"{fam}-pruned50", "repackaged")],
        "cast-fp16",
        dtype=torch.float16,
        evidence="reduced precision (fp16 grid); exact zeros",
    )

    emb = {_EMBEDDINGS[a]: b0[_EMBEDDINGS[a]]}
    cousin, rec = ctx.train(cfg, f"{a}-c0", None, "pretrain", init=emb, frozen=tuple(emb))
    add(
        f"{a}-c0",
        cousin,
        [(fam, "shares-embeddings")],
        "cousin-shared-embeddings",
        training=rec,
        note="trained from scratch with base 0's token embeddings copied and frozen",
    )

    if n_independent > 1:
        b1, fam1 = bases[1], f"{a}-b1"
        ft1, rec = ctx.train(cfg, f"{fam1}-ft", b1, "finetune", data="finetune_b")
        add(f"{fam1}-ft", ft1, [(fam1, "finetune")], "finetune", training=rec, family=fam1)
        lora1, rec = ctx.train(cfg, f"{fam1}-lora", b1, "lora", data="finetune_a")
        add(
            f"{fam1}-lora",
            lora1,
            [(fam1, "adapter")],
            "lora-merged",
            training=rec,
            family=fam1,
            evidence="low-rank delta on the LoRA target matrices",
        )
        fmt, q = ("gguf", "q8_0") if llama else ("onnx", "int8")
        add(
            f"{fam1}-{fmt}-{q}",
            b1,
            [(fam1, "quantized")],
            f"{fmt}-{q}",
            fmt=fmt,
            quant=q,
            lossless=False,
            family=fam1,
            evidence=_GRID.format(f"{fmt} {q}"),
        )


def build_zoo(out: Path, size: str, n_independent: int, seed: int, log=print) -> list[dict]:
    """Generate the whole zoo under ``out``; return the manifest entries."""
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    out.mkdir(parents=True, exist_ok=True)
    corpus = load_corpus()
    ctx = BuildContext(ZooWriter(out), corpus, PLANS[size], seed, log)
    log(f"corpus: pydoc_data.topics, {corpus.n_bytes} bytes, sha256 {corpus.sha256[:16]}...")
    for arch in ("llama", "bert"):
        t0 = time.perf_counter()
        log(f"{arch} ({size}):")
        build_architecture(ctx, SIZES[size][arch], n_independent)
        log(f"  {arch} done in {time.perf_counter() - t0:.1f}s")
    ctx.zoo.write_manifest()
    info = {
        "command": f"python -m scripts.zoo --out {out.as_posix()} --size {size} "
        f"--independent {n_independent} --seed {seed}",
        "size": size,
        "seed": seed,
        "independent": n_independent,
        "torch": torch.__version__,
        "corpus": {"source": "pydoc_data.topics", "bytes": corpus.n_bytes, "sha256": corpus.sha256},
        "shapes": {a: SIZES[size][a].__dict__ for a in ("llama", "bert")},
        "plan": PLANS[size].__dict__,
    }
    (out / "zoo.json").write_text(json.dumps(info, indent=2) + "\n")
    return ctx.zoo.entries
