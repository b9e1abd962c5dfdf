"""Sketching a K-quant GGUF (the Q4_K_M layout) against hashing it.

What it measures
    A GGUF of about 1 GiB in llama.cpp's Q4_K_M layout (Llama-2-7B shapes, ``--layers``
    layers: attention and MLP matrices Q4_K, ``attn_v``, ``ffn_down`` and ``output`` Q6_K, norms
    F32), written with the ``gguf`` package. Its blocks are random bytes with finite f16
    super-scales: what is measured is reading and decoding, which does not depend on the values.
    With the file in the page cache, the best of ``--rounds`` runs of SHA-256 over the file and
    of ``sketch_path`` on it. Target: the sketch at least 3x faster than the hash.

Run: ``python -m benchmarks.kquant_cost [--layers N] [--rounds N] [--workdir DIR]``. Writes the
"K-quant sketch cost" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path

import gguf
import numpy as np

from benchmarks._report import Figure, command_line, markdown_table, write_section
from registry.weights.sketching import sketch_path

TITLE = "K-quant sketch cost"
TARGET = 3.0
# (name, rows, columns, type) for one layer, llama.cpp names; Q4_K_M keeps these in Q6_K
_Q6 = ("attn_v", "ffn_down")
_F16_AT = {"Q4_K": (0, 2), "Q6_K": (208,)}


def layout(layers: int, hidden: int = 4096, inter: int = 11008, vocab: int = 32000):  # type: ignore[no-untyped-def]
    yield "token_embd.weight", vocab, hidden, "Q4_K"
    for i in range(layers):
        for part, rows, cols in (
            ("attn_q", hidden, hidden),
            ("attn_k", hidden, hidden),
            ("attn_v", hidden, hidden),
            ("attn_output", hidden, hidden),
            ("ffn_gate", inter, hidden),
            ("ffn_up", inter, hidden),
            ("ffn_down", hidden, inter),
        ):
            yield f"blk.{i}.{part}.weight", rows, cols, "Q6_K" if part in _Q6 else "Q4_K"
        yield f"blk.{i}.attn_norm.weight", 1, hidden, "F32"
        yield f"blk.{i}.ffn_norm.weight", 1, hidden, "F32"
    yield "output_norm.weight", 1, hidden, "F32"
    yield "output.weight", vocab, hidden, "Q6_K"


def random_blocks(rng: np.random.Generator, rows: int, cols: int, qtype: str) -> np.ndarray:
    kind = gguf.GGMLQuantizationType[qtype]
    block, size = gguf.GGML_QUANT_SIZES[kind]
    blocks = cols // block
    raw = rng.integers(0, 256, size=(rows, blocks, size), dtype=np.uint8)
    for at in _F16_AT[qtype]:
        scales = rng.uniform(1e-3, 2e-2, size=(rows, blocks)).astype(np.float16)
        raw[:, :, at : at + 2] = scales.view(np.uint8).reshape(rows, blocks, 2)
    return raw.reshape(rows, blocks * size)


def write_q4_k_m(path: Path, layers: int, seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(layers)
    for name, rows, cols, qtype in layout(layers):
        if qtype == "F32":
            writer.add_tensor(name, np.ones(cols, dtype=np.float32))
            continue
        raw = random_blocks(rng, rows, cols, qtype)
        writer.add_tensor(
            name, raw, raw_shape=raw.shape, raw_dtype=gguf.GGMLQuantizationType[qtype]
        )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path.stat().st_size


def sha256_file(path: Path, chunk: int = 8 * 1024**2) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def best_of(rounds: int, run) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="provreg-bench-kquant-", dir=args.workdir) as tmp:
        path = Path(tmp) / "model-Q4_K_M.gguf"
        size = write_q4_k_m(path, args.layers)
        sha256_file(path)  # into the page cache
        sha = best_of(args.rounds, lambda: sha256_file(path))
        sketch_bytes = len(sketch_path(path).to_bytes())
        sketch = best_of(args.rounds, lambda: sketch_path(path))
    ratio = sha / sketch
    figures = [
        Figure(
            f"SHA-256 time / sketch time, Q4_K_M GGUF of {size / 2**30:.2f} GiB",
            f"{ratio:.1f}x",
            f">= {TARGET:.0f}x",
            ratio >= TARGET,
        )
    ]
    details = markdown_table(
        ["file", "bytes", "SHA-256 (best)", "sketch (best)", "sketch size"],
        [
            (
                path.name,
                f"{size:,}",
                f"{sha:.2f} s",
                f"{sketch:.2f} s",
                f"{sketch_bytes / 1024:.0f} KiB",
            )
        ],
    )
    details += (
        "\n\nK-quant columns are decoded element by element (`registry/weights/kquants.py`): "
        "each wanted value is assembled from its own quant, sub-block scale and super-scale "
        "bits, so sketching reads a few bytes per row of each sampled block instead of "
        "decoding 256-value super-blocks."
    )
    out = write_section(
        TITLE,
        command=command_line("benchmarks.kquant_cost"),
        figures=figures,
        summary="Sketching a Q4_K_M GGUF against SHA-256 of the same file (page cache warm).",
        details=details,
    )
    print(f"wrote {out}", file=sys.stderr)
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
