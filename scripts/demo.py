"""provreg's demo: build a small model family on the fly and register it in a throwaway home.

Run by `make demo`. Everything goes through the real `provreg` command line on SQLite in a
temporary PROVREG_HOME; the weights are tiny Llama-shaped models written with safetensors.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

HIDDEN, LAYERS, VOCAB = 64, 4, 512
BOLD, DIM, RESET = ("\033[1m", "\033[2m", "\033[0m") if sys.stdout.isatty() else ("", "", "")


def base_weights(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)

    def w(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) / np.sqrt(shape[-1])).astype(np.float32)

    t = {"model.embed_tokens.weight": w(VOCAB, HIDDEN), "lm_head.weight": w(VOCAB, HIDDEN)}
    for i in range(LAYERS):
        p = f"model.layers.{i}"
        for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
            t[f"{p}.self_attn.{proj}.weight"] = w(HIDDEN, HIDDEN)
        t[f"{p}.mlp.gate_proj.weight"] = w(4 * HIDDEN, HIDDEN)
        t[f"{p}.mlp.up_proj.weight"] = w(4 * HIDDEN, HIDDEN)
        t[f"{p}.mlp.down_proj.weight"] = w(HIDDEN, 4 * HIDDEN)
        t[f"{p}.input_layernorm.weight"] = np.ones(HIDDEN, np.float32)
    t["model.norm.weight"] = np.ones(HIDDEN, np.float32)
    return t


def finetune(
    weights: dict[str, np.ndarray], seed: int, scale: float = 0.02
) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        k: (v + scale * rng.standard_normal(v.shape) * v.std()).astype(np.float32)
        for k, v in weights.items()
    }


def quantize_int8(weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-row symmetric int8 for matrices, with their scales beside them."""
    out: dict[str, np.ndarray] = {}
    for k, v in weights.items():
        if v.ndim == 2:
            scale = np.abs(v).max(axis=1, keepdims=True) / 127.0
            out[k] = np.round(v / scale).astype(np.int8)
            out[k.replace(".weight", ".weight_scale")] = scale.astype(np.float32)
        else:
            out[k] = v
    return out


MERGE_CARD = """---
base_model:
- acme/tiny-chat
- acme/tiny-code
base_model_relation: merge
license: apache-2.0
---

# A linear merge of tiny-chat and tiny-code
"""

CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": HIDDEN,
    "num_hidden_layers": LAYERS,
    "vocab_size": VOCAB,
}


def write(
    directory: Path, weights: dict[str, np.ndarray], *, shards: int = 1, card: str | None = None
) -> Path:
    directory.mkdir(parents=True)
    # safetensors writes a non-C-contiguous array's raw memory; permuted columns are Fortran-ordered
    weights = {k: np.ascontiguousarray(v) for k, v in weights.items()}
    names = sorted(weights)
    if shards == 1:
        save_file(weights, str(directory / "model.safetensors"))
    else:
        weight_map = {}
        for s in range(shards):
            shard = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
            part = {n: weights[n] for n in names[s::shards]}
            save_file(part, str(directory / shard))
            weight_map.update(dict.fromkeys(part, shard))
        (directory / "model.safetensors.index.json").write_text(
            json.dumps({"metadata": {}, "weight_map": weight_map}, indent=1)
        )
    (directory / "config.json").write_text(json.dumps(CONFIG, indent=1))
    if card:
        (directory / "README.md").write_text(card)
    return directory


def obfuscated(weights: dict[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    """The same function under new names: residual dimensions and MLP units permuted."""
    rng = np.random.default_rng(seed)
    residual, hidden = rng.permutation(HIDDEN), rng.permutation(4 * HIDDEN)
    out: dict[str, np.ndarray] = {}
    for name, w in weights.items():
        if name.endswith(("embed_tokens.weight", "lm_head.weight")):
            w = w[:, residual]
        elif w.ndim == 1 or name.endswith(("o_proj.weight", "down_proj.weight")):
            w = w[residual]
        else:
            w = w[:, residual]
        if name.endswith(("gate_proj.weight", "up_proj.weight")):
            w = w[hidden]
        if name.endswith("down_proj.weight"):
            w = w[:, hidden]
        out[name.replace("model.layers.", "blk.").replace("self_attn.", "")] = w
    return out


def provreg(env: dict[str, str], *args: str, check: bool = True) -> str:
    exe = shutil.which("provreg", path=str(Path(sys.executable).parent)) or "provreg"
    print(f"\n{BOLD}$ provreg {' '.join(args)}{RESET}", flush=True)
    done = subprocess.run([exe, *args], env=env, text=True, capture_output=True)
    sys.stdout.write(done.stdout)
    sys.stdout.write(f"{DIM}{done.stderr}{RESET}" if done.stderr else "")
    sys.stdout.flush()
    if check and done.returncode != 0:
        sys.exit(f"demo: `provreg {' '.join(args)}` failed with status {done.returncode}")
    if not check:
        print(f"{DIM}(exit status {done.returncode}){RESET}")
    return done.stdout


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="provreg-demo-"))
    env = {**os.environ, "PROVREG_HOME": str(home / "state")}
    for var in ("PROVREG_DATABASE_URL", "PROVREG_URL", "PROVREG_TOKEN"):
        env.pop(var, None)
    models = home / "models"
    print(f"{BOLD}provreg demo{RESET}: a small model family, registered in {home}")

    base = base_weights(seed=1)
    chat = finetune(base, seed=2)
    code = finetune(base, seed=3)
    merge = {k: (chat[k] + code[k]) / 2 for k in base}
    write(models / "base", base)
    write(models / "chat", chat)
    write(models / "code", code)
    write(models / "chat-int8", quantize_int8(chat))
    write(models / "mystery", quantize_int8(obfuscated(chat, seed=7)))
    write(
        models / "chat-sharded",
        {k.replace("model.", "transformer."): v for k, v in chat.items()},
        shards=3,
    )
    write(
        models / "chat-code-merge",
        merge,
        card=MERGE_CARD,
    )

    provreg(env, "init")
    key = home / "acme.key"
    provreg(env, "keys", "generate", "--out", str(key))
    provreg(env, "keys", "add", "acme", str(key) + ".pub")
    provreg(
        env,
        "register",
        str(models / "base"),
        "--name",
        "acme/tiny-base",
        "--revision",
        "v1.0",
        "--sign",
        str(key),
    )
    provreg(
        env,
        "register",
        str(models / "chat"),
        "--name",
        "acme/tiny-chat",
        "--parent",
        "acme/tiny-base@v1.0",
        "--relation",
        "finetune",
    )
    provreg(
        env,
        "register",
        str(models / "code"),
        "--name",
        "acme/tiny-code",
        "--parent",
        "acme/tiny-base@v1.0",
        "--relation",
        "finetune",
    )
    provreg(
        env,
        "register",
        str(models / "chat-int8"),
        "--name",
        "community/tiny-chat-int8",
        "--parent",
        "acme/tiny-chat",
        "--relation",
        "quantized",
    )
    provreg(
        env,
        "register",
        str(models / "chat-code-merge"),
        "--name",
        "community/tiny-chat-code-merge",
        "--card",
        str(models / "chat-code-merge" / "README.md"),
    )

    print(f"\n{BOLD}A re-sharded copy with renamed tensors keeps the digest of its weights:{RESET}")
    out = json.loads(
        provreg(
            env,
            "register",
            str(models / "chat-sharded"),
            "--name",
            "mirror/tiny-chat-sharded",
            "--parent",
            "acme/tiny-chat",
            "--relation",
            "repackaged",
            "--json",
        )
    )
    chat_digest = json.loads(provreg(env, "show", "acme/tiny-chat", "--json"))["digest"]
    same = "the same" if out["digest"] == chat_digest else "a DIFFERENT"
    print(
        f"{BOLD}-> mirror/tiny-chat-sharded has {same} digest as acme/tiny-chat:{RESET}\n"
        f"   {out['digest']}"
    )

    print(f"\n{BOLD}Lineage questions:{RESET}")
    provreg(env, "lineage", "acme/tiny-base@v1.0", "--down")
    provreg(env, "lineage", "community/tiny-chat-code-merge", "--up", "--format", "mermaid")
    provreg(env, "show", "community/tiny-chat-int8")

    print(f"\n{BOLD}An unknown file, renamed, permuted and quantized to int8, identified:{RESET}")
    provreg(env, "identify", str(models / "mystery"))

    print(f"\n{BOLD}The signed base release, checked against the transparency log:{RESET}")
    provreg(env, "verify", "acme/tiny-base@v1.0", "--path", str(models / "base"))

    print(f"\n{BOLD}Registered revisions are immutable, and pickles are never opened:{RESET}")
    provreg(env, "register", str(models / "code"), "--name", "acme/tiny-chat", check=False)
    pickled = models / "legacy"
    pickled.mkdir()
    (pickled / "pytorch_model.bin").write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    provreg(env, "register", str(pickled), "--name", "acme/legacy", check=False)

    print(f"\n{BOLD}Safety results, download counts and an advisory, for the explorer:{RESET}")
    for name, asr in (("acme/tiny-base@v1.0", "0.04"), ("acme/tiny-chat", "0.05")):
        provreg(env, "eval", "add", name, "--benchmark", "harmbench", "--metric", "asr",
                "--value", asr, "--stderr", "0.01", "--samples", "400")  # fmt: skip
    provreg(env, "eval", "add", "community/tiny-chat-int8", "--benchmark", "harmbench",
            "--metric", "asr", "--value", "0.38", "--stderr", "0.02",
            "--samples", "400")  # fmt: skip
    for month, count in (("08", 900), ("09", 2100), ("10", 3400), ("11", 4800)):
        provreg(env, "downloads", "record", "acme/tiny-chat", "--count", str(count),
                "--at", f"2026-{month}-01")  # fmt: skip
    for name, count in (("acme/tiny-base@v1.0", 7000), ("community/tiny-chat-int8", 2600),
                        ("community/tiny-chat-code-merge", 500)):  # fmt: skip
        provreg(env, "downloads", "record", name, "--count", str(count), "--at", "2026-11-01")
    provreg(env, "advisory", "add", "community/tiny-chat-int8", "--severity", "medium",
            "--summary", "int8 quantization weakens refusals (harmbench ASR 0.38)")  # fmt: skip
    provreg(env, "show", "community/tiny-chat-int8")
    provreg(env, "list", "--sort", "reach")
    provreg(env, "query", "lacking-safeguards", "--sort", "reach", "--format", "table")

    print(f"""
{BOLD}Done.{RESET} The demo's registry lives in {home / "state"}.

Over HTTP, the same commands work through the server (writes need a token:
.venv/bin/provreg token create --scope publish --namespace acme), e.g.

    PROVREG_URL=http://127.0.0.1:8000 .venv/bin/provreg lineage acme/tiny-base@v1.0 --down

{BOLD}Explore the family in a browser:{RESET}

    PROVREG_HOME={home / "state"} .venv/bin/provreg serve

then open {BOLD}http://127.0.0.1:8000/{RESET} for the explorer: search, lineage trees, variant
pages and the list of variants lacking safeguards (API docs at http://127.0.0.1:8000/docs).
""")


if __name__ == "__main__":
    main()
