"""Sketch cost: time of ``sketch_source(open_model(path))`` against plain SHA-256 of the same
files, and the sketch's size as layers and width grow.

Used by ``benchmarks.identify_zoo``. Both sides run in this process with the page cache warm
(every file is read once before timing), alternating which goes first, best and median of a
few rounds. Sizes of layouts too big to write (a 7B-like model) are measured by sketching
*virtual* tensors that produce random values for exactly the rows and columns sketching asks
for, so the sketch has the true record count and shapes without the bytes existing.
"""

from __future__ import annotations

import hashlib
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from registry.weights import open_model
from registry.weights.sketch_build import build_sketch
from registry.weights.sketching import sketch_source

CHUNK = 8 * 1024**2


def sha256_files(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        with p.open("rb") as fh:
            while block := fh.read(CHUNK):
                h.update(block)
    return h.hexdigest()


def _warm(paths: list[Path]) -> None:
    for p in paths:
        with p.open("rb") as fh:
            while fh.read(CHUNK):
                pass


@dataclass
class Timing:
    label: str
    format: str
    nbytes: int
    sketch_bytes: int
    records: int
    sha_s: list[float] = field(default_factory=list)
    sketch_s: list[float] = field(default_factory=list)

    @property
    def sha_best(self) -> float:
        return min(self.sha_s)

    @property
    def sketch_best(self) -> float:
        return min(self.sketch_s)

    @property
    def sha_median(self) -> float:
        return statistics.median(self.sha_s)

    @property
    def sketch_median(self) -> float:
        return statistics.median(self.sketch_s)


def time_model(label: str, path: Path, rounds: int) -> Timing:
    """Best/median of ``rounds`` of sketching vs SHA-256 of the model's weight files."""
    source = open_model(path)
    files = [f.path for f in source.files]
    _warm(files)
    sketch = sketch_source(source)
    t = Timing(
        label,
        source.format,
        sum(p.stat().st_size for p in files),
        len(sketch.to_bytes()),
        len(sketch.records),
    )
    for k in range(rounds):
        order = ("sha", "sketch") if k % 2 == 0 else ("sketch", "sha")
        for side in order:
            t0 = time.perf_counter()
            if side == "sha":
                sha256_files(files)
                t.sha_s.append(time.perf_counter() - t0)
            else:
                sketch_source(open_model(path))
                t.sketch_s.append(time.perf_counter() - t0)
    return t


def per_format(timings: list[Timing]) -> dict[str, dict[str, float]]:
    """Summed best times per format, and the ratio sha/sketch over those sums."""
    acc: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for t in timings:
        a = acc[t.format]
        a["files"] += 1
        a["bytes"] += t.nbytes
        a["sha_s"] += t.sha_best
        a["sketch_s"] += t.sketch_best
        a["sketch_bytes_max"] = max(a["sketch_bytes_max"], t.sketch_bytes)
    for a in acc.values():
        a["ratio"] = a["sha_s"] / a["sketch_s"] if a["sketch_s"] else 0.0
    return {k: dict(v) for k, v in acc.items()}


def gguf_copy(model: Path, out: Path, qtype_name: str) -> Path:
    """A llama.cpp-named GGUF copy of a safetensors model, its matrices quantized by the ``gguf``
    package (``Q8_0``, ``Q4_0`` or ``Q4_1``; 1-D tensors stay F32). Built once."""
    import gguf
    from safetensors import safe_open

    if out.exists():
        return out
    qtype = gguf.GGMLQuantizationType[qtype_name]
    tmp = out.with_suffix(".partial")
    writer = gguf.GGUFWriter(str(tmp), "llama")
    for shard in sorted(model.glob("*.safetensors")):
        with safe_open(str(shard), "np") as fh:
            for key in fh.keys():  # noqa: SIM118 (safe_open is not a dict)
                a = fh.get_tensor(key).astype(np.float32)
                name = (
                    key.replace("model.embed_tokens.weight", "token_embd.weight")
                    .replace("model.layers.", "blk.")
                    .replace("lm_head.weight", "output.weight")
                )
                if a.ndim == 2 and a.shape[1] % 32 == 0:
                    q = gguf.quants.quantize(a, qtype)
                    writer.add_tensor(name, q, raw_shape=q.shape, raw_dtype=qtype)
                else:
                    writer.add_tensor(name, a)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.rename(out)
    return out


# --- sketch size on virtual layouts --------------------------------------------------------


@dataclass
class VirtualTensor:
    """Random values for whatever rows or columns are asked for; nothing is stored."""

    name: str
    shape: tuple[int, ...]
    storage: str = "BF16"
    seed: int = 0

    def _rng(self, salt: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, hash(self.name) & 0xFFFFFFFF, salt])

    def read_rows(self, index: np.ndarray | None = None) -> np.ndarray:
        n = self.shape[0] if index is None else len(index)
        return self._rng(1).standard_normal((n, self.shape[1]), dtype=np.float32) * 0.02

    def read_columns(self, index: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        n = self.shape[0] if rows is None else len(rows)
        return self._rng(2).standard_normal((n, len(index)), dtype=np.float32) * 0.02


def llama_layout(
    hidden: int, layers: int, vocab: int, intermediate: int, kv: int, seed: int = 0
) -> list[VirtualTensor]:
    """Virtual tensors of a Llama-shaped model (norm vectors omitted: sketching skips 1-D)."""
    out = [VirtualTensor("model.embed_tokens.weight", (vocab, hidden), seed=seed)]
    for i in range(layers):
        p = f"model.layers.{i}."
        out += [
            VirtualTensor(p + "self_attn.q_proj.weight", (hidden, hidden), seed=seed),
            VirtualTensor(p + "self_attn.k_proj.weight", (kv, hidden), seed=seed),
            VirtualTensor(p + "self_attn.v_proj.weight", (kv, hidden), seed=seed),
            VirtualTensor(p + "self_attn.o_proj.weight", (hidden, hidden), seed=seed),
            VirtualTensor(p + "mlp.gate_proj.weight", (intermediate, hidden), seed=seed),
            VirtualTensor(p + "mlp.up_proj.weight", (intermediate, hidden), seed=seed),
            VirtualTensor(p + "mlp.down_proj.weight", (hidden, intermediate), seed=seed),
        ]
    out.append(VirtualTensor("lm_head.weight", (vocab, hidden), seed=seed))
    return out


def virtual_sketch_size(
    hidden: int, layers: int, vocab: int, intermediate: int, kv: int
) -> tuple[int, int, float]:
    """(sketch bytes, records, seconds) for a virtual Llama layout."""
    t0 = time.perf_counter()
    sketch = build_sketch(llama_layout(hidden, layers, vocab, intermediate, kv))
    return len(sketch.to_bytes()), len(sketch.records), time.perf_counter() - t0
