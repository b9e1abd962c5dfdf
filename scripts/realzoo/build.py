"""The real-tools zoo recipe: tiny ``transformers`` models and derivatives made by real tools.

Per architecture (llama, qwen2, gpt2, bert): two independent bases; from base 0 a 12-step bf16
fine-tune, a 200-step fine-tune, a PEFT LoRA merge, ``resize_token_embeddings``, a vocabulary
trim, ONNX exports (onnxruntime-optimized; dynamic, static QDQ and QOperator int8), GGUF Q8_0 /
Q4_0, a shuffled-name safetensors copy, two chains, and a kin model trained around base 0's
embedding table. With ``--null N`` and ``--kin K`` (benchmark only, not committed) it adds N
more independently trained llama models and K kin of ``llama-b0`` (shared embedding table,
frozen or trained on; shared embedding and first layer; other depths). Ground truth goes to
``manifest.json`` in the format of ``scripts.zoo.truth``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.numpy import load_file

from scripts.zoo.context import derive_seed
from scripts.zoo.corpus import Corpus, load_corpus

from . import tools
from .models import ARCHS, TINY, embedding_names, layer_prefix, new_model, train
from .recipe import FIXTURE_IDS, PRETRAIN, TRIM_KEEP
from .resave import shuffled_safetensors


def _sha(state: dict[str, torch.Tensor], dtype: torch.dtype = torch.float32) -> str:
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().to(dtype).float().contiguous()
        h.update(f"{name}:{tuple(t.shape)}\n".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


@dataclass
class RealZoo:
    root: Path
    corpus: Corpus
    seed: int
    only: set[str] | None = None
    log: Callable[[str], None] = print
    entries: list[dict] = field(default_factory=list)
    models: dict[str, torch.nn.Module] = field(default_factory=dict)

    def keep(self, mid: str) -> bool:
        return self.only is None or mid in self.only

    def add(
        self,
        mid: str,
        arch: str,
        path: str,
        fmt: str,
        parents,
        transformation: str,
        *,
        sha: str | None,
        evidence: str | None = None,
        family: str | None = None,
        **extra,
    ) -> None:
        self.entries.append(
            {
                "id": mid,
                "path": path,
                "format": fmt,
                "architecture": arch,
                "family": family or mid.split("-")[0] + "-" + mid.split("-")[1],
                "parents": [{"id": p, "relation": r} for p, r in parents],
                "transformation": transformation,
                "direction_evidence": evidence,
                "weights_sha256": sha,
                **extra,
            }
        )
        self.log(f"  {mid:<30} {transformation}")

    def save(
        self,
        mid: str,
        arch: str,
        model,
        parents,
        transformation: str,
        dtype: torch.dtype = torch.float32,
        **kw,
    ) -> None:
        self.models[mid] = model
        if not self.keep(mid):
            return
        tools.save_hf(model, self.root / mid, dtype)
        self.add(
            mid,
            arch,
            mid,
            "safetensors",
            parents,
            transformation,
            sha=_sha(model.state_dict(), dtype),
            dtype=str(dtype).removeprefix("torch."),
            **kw,
        )

    def pretrain(self, arch: str, mid: str, **kw):
        s = derive_seed(self.seed, mid)
        init = kw.pop("init", {})
        frozen = kw.pop("frozen", ())
        m = new_model(arch, s, **kw)
        if init:
            m.load_state_dict({**m.state_dict(), **init})
        rec = train(
            m,
            arch,
            self.corpus.slices["pretrain"],
            self.corpus.slices["heldout"],
            seed=s,
            trainable=lambda n: not n.startswith(frozen) if frozen else True,
            **PRETRAIN,
        )
        return m, rec

    def finetune(self, arch: str, parent, mid: str, steps: int, lr: float, schedule: bool):
        import copy

        m = copy.deepcopy(parent)
        s = derive_seed(self.seed, mid)
        rec = train(
            m,
            arch,
            self.corpus.slices["finetune_a"],
            self.corpus.slices["heldout"],
            steps=steps,
            lr=lr,
            seed=s,
            schedule=schedule,
        )
        return m, rec


def build_arch(z: RealZoo, a: str) -> None:
    c = z.corpus.slices
    seq = TINY.seq_len
    for k in (0, 1):
        mid = f"{a}-b{k}"
        m, rec = z.pretrain(a, mid)
        z.save(mid, a, m, [], "pretrain", training=rec)
    b0, fam = z.models[f"{a}-b0"], f"{a}-b0"
    b0_dir = z.root / fam

    m, rec = z.finetune(a, b0, f"{fam}-ft12-bf16", 12, 1e-4, schedule=False)
    z.save(
        f"{fam}-ft12-bf16",
        a,
        m,
        [(fam, "finetune")],
        "finetune-12-steps-bf16",
        torch.bfloat16,
        training=rec,
        evidence="reduced precision: every value on the bf16 grid",
    )
    m, rec = z.finetune(a, b0, f"{fam}-ft200", 200, 5e-4, schedule=True)
    z.save(f"{fam}-ft200", a, m, [(fam, "finetune")], "finetune-200-steps", training=rec)
    m, rec = tools.lora_merged(
        b0, a, c["finetune_b"], c["heldout"], derive_seed(z.seed, f"{fam}-lora"), 100
    )
    z.save(
        f"{fam}-lora",
        a,
        m,
        [(fam, "adapter")],
        "peft-lora-merged",
        training=rec,
        evidence="low-rank delta: parent + rank-8 update on the LoRA target matrices",
    )
    m, rec = tools.resized(
        b0, a, 16, c["finetune_a"], c["heldout"], derive_seed(z.seed, f"{fam}-resized")
    )
    z.save(
        f"{fam}-resized",
        a,
        m,
        [(fam, "finetune")],
        "resize-token-embeddings",
        training=rec,
        evidence="appended rows: 16 new embedding rows past the parent's vocabulary",
    )
    m = tools.vocab_trimmed(b0, a, TRIM_KEEP)
    z.save(
        f"{fam}-trim",
        a,
        m,
        [(fam, "pruned")],
        "vocab-trim",
        kept_ids=len(TRIM_KEEP),
        evidence="vocabulary subset: rows removed and renumbered, every layer identical; "
        "the parent has the larger vocabulary",
    )

    sha_b0 = _sha(b0.state_dict())
    raw = z.root / ".tmp" / f"{fam}.onnx"
    tools.export_onnx(b0, a, raw, seq)
    onnx_out = [
        ("onnx-raw", "raw", None, "repackaged", "onnx-torch-export"),
        ("onnx-opt", None, None, "repackaged", "onnx-ort-optimized"),
        ("onnx-qdyn", "dynamic", False, "quantized", "onnx-quantize-dynamic"),
        ("onnx-qdyn-pc", "dynamic", True, "quantized", "onnx-quantize-dynamic-per-channel"),
        ("onnx-qdq", "static-qdq", False, "quantized", "onnx-quantize-static-qdq"),
        ("onnx-qdq-pc", "static-qdq", True, "quantized", "onnx-quantize-static-qdq-per-channel"),
        ("onnx-qop", "static-qop", False, "quantized", "onnx-quantize-static-qoperator"),
        (
            "onnx-qop-pc",
            "static-qop",
            True,
            "quantized",
            "onnx-quantize-static-qoperator-per-channel",
        ),
    ]
    for name, kind, pc, rel, transformation in onnx_out:
        mid = f"{fam}-{name}"
        if not z.keep(mid):
            continue
        out = z.root / f"{mid}.onnx"
        if kind == "raw":
            shutil.copyfile(raw, out)
        elif kind is None:
            tools.ort_optimized(raw, out)
        else:
            tools.quantize_onnx(raw, out, kind, pc, c["heldout"], seq)
        z.add(
            mid,
            a,
            out.name,
            "onnx",
            [(fam, rel)],
            transformation,
            sha=sha_b0 if rel == "repackaged" else None,
            evidence=None if rel == "repackaged" else "quantization grid: int8",
        )
    for q in ("q8_0", "q4_0"):
        mid = f"{fam}-gguf-{q}"
        if z.keep(mid):
            tools.export_gguf(b0_dir, z.root / f"{mid}.gguf", q)
            z.add(
                mid,
                a,
                f"{mid}.gguf",
                "gguf",
                [(fam, "quantized")],
                f"gguf-{q}",
                sha=None,
                evidence=f"quantization grid: GGUF {q.upper()} blocks of 32",
            )
    mid = f"{fam}-shuffled"
    if z.keep(mid):
        st = load_file(str(b0_dir / "model.safetensors"))
        shuffled_safetensors(st, z.root / mid, derive_seed(z.seed, mid))
        z.add(
            mid,
            a,
            mid,
            "safetensors",
            [(fam, "repackaged")],
            "safetensors-shuffled-names",
            sha=sha_b0,
        )

    ft12 = f"{fam}-ft12-bf16"
    mid = f"{ft12}-gguf-q8_0"
    if z.keep(mid) and (z.root / ft12).exists():
        tools.export_gguf(z.root / ft12, z.root / f"{mid}.gguf", "q8_0")
        z.add(
            mid,
            a,
            f"{mid}.gguf",
            "gguf",
            [(ft12, "quantized")],
            "gguf-q8_0",
            sha=None,
            evidence="quantization grid: GGUF Q8_0 blocks of 32",
        )
    mid = f"{fam}-ft200-onnx-qdyn"
    if z.keep(mid):
        raw_ft = z.root / ".tmp" / f"{fam}-ft200.onnx"
        tools.export_onnx(z.models[f"{fam}-ft200"], a, raw_ft, seq)
        tools.quantize_onnx(raw_ft, z.root / f"{mid}.onnx", "dynamic", False, c["heldout"], seq)
        z.add(
            mid,
            a,
            f"{mid}.onnx",
            "onnx",
            [(f"{fam}-ft200", "quantized")],
            "onnx-quantize-dynamic",
            sha=None,
            evidence="quantization grid: int8",
        )

    emb = {n: b0.state_dict()[n].clone() for n in embedding_names(a)}
    first = {k: v.clone() for k, v in b0.state_dict().items() if k.startswith(layer_prefix(a, 0))}
    kin = [
        ("k0", emb, "shares-embeddings", "kin-shared-embeddings", "token embeddings"),
        ("k1", {**emb, **first}, "shares-layers", "kin-emb+layer0", "embeddings and first layer"),
    ]
    for k, init, rel, transformation, what in kin:
        m, rec = z.pretrain(a, f"{a}-{k}", init=init, frozen=tuple(init))
        z.save(f"{a}-{k}", a, m, [(fam, rel)], transformation, training=rec, family=f"{a}-{k}",
               note=f"trained from scratch around base 0's {what} (copied, frozen)")  # fmt: skip
    m, rec = z.finetune(a, z.models[f"{a}-b1"], f"{a}-b1-ft200", 200, 5e-4, schedule=True)
    z.save(
        f"{a}-b1-ft200",
        a,
        m,
        [(f"{a}-b1", "finetune")],
        "finetune-200-steps",
        training=rec,
        family=f"{a}-b1",
    )


def build_null(z: RealZoo, n_null: int, n_kin: int) -> None:
    """Independent llama models (other seeds) and kin of ``llama-b0``."""
    a = "llama"
    for i in range(n_null):
        mid = f"{a}-n{i:02d}"
        m, rec = z.pretrain(a, mid)
        z.save(mid, a, m, [], "pretrain", training=rec, family=mid)
    b0 = z.models[f"{a}-b0"].state_dict()
    emb = {n: b0[n].clone() for n in embedding_names(a)}
    first = {k: v.clone() for k, v in b0.items() if k.startswith(layer_prefix(a, 0))}
    for i in range(n_kin):
        mid = f"{a}-k{i + 1:02d}"
        kind = ("emb-frozen", "emb-trained", "emb+layer0", "depth")[i % 4]
        init, frozen, kw = dict(emb), tuple(emb), {}
        rel, note = "shares-embeddings", "base 0's embedding table copied and frozen"
        if kind == "emb-trained":
            frozen, note = (), "initialised from base 0's embedding table, everything trained"
        elif kind == "emb+layer0":
            init.update(first)
            frozen = (*emb, *first)
            rel, note = "shares-layers", "base 0's embeddings and first layer copied and frozen"
        elif kind == "depth":
            kw = {"layers": 1 + (i // 4) % 4}
            note = f"{kw['layers']} layers around base 0's frozen embedding table"
        m, rec = z.pretrain(a, mid, init=init, frozen=frozen, **kw)
        z.save(mid, a, m, [(f"{a}-b0", rel)], f"kin-{kind}", training=rec, family=mid, note=note)


def build(
    out: Path,
    seed: int = 0,
    n_null: int = 0,
    n_kin: int = 0,
    fixtures: bool = False,
    archs: tuple[str, ...] = ARCHS,
    log=print,
) -> list[dict]:
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    out.mkdir(parents=True, exist_ok=True)
    only = {f"{a}-{k}" for a in archs for k in FIXTURE_IDS[a]} if fixtures else None
    z = RealZoo(out, load_corpus(), seed, only, log)
    for a in archs:
        log(f"{a}:")
        build_arch(z, a)
    if "llama" in archs:
        build_null(z, n_null, n_kin)
    shutil.rmtree(out / ".tmp", ignore_errors=True)
    (out / "manifest.json").write_text(json.dumps(z.entries, indent=2) + "\n")
    import onnxruntime
    import peft
    import transformers

    info = {
        "command": f"python -m scripts.realzoo --out {out.as_posix()} --seed {seed}"
        + (" --fixtures" if fixtures else f" --null {n_null} --kin {n_kin}"),
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "peft": peft.__version__,
            "onnxruntime": onnxruntime.__version__,
        },
        "shape": TINY.__dict__,
        "pretrain": PRETRAIN,
        "corpus_sha256": z.corpus.sha256,
    }
    (out / "zoo.json").write_text(json.dumps(info, indent=2) + "\n")
    return z.entries
