"""PEFT LoRA adapters: what an adapter release holds, summarised as an adapter sketch.

An adapter is no model: it has no vocabulary and no base weights, only low-rank factors
``lora_A`` (r x in) and ``lora_B`` (out x r) per target module, which a merge adds to the base
as ``scale * B @ A`` (scale ``alpha / r``, or ``alpha / sqrt(r)`` with rsLoRA). Its sketch keeps,
per target, the module's name, shapes and rank, and that delta at the indices a model sketch's
raw block samples (:func:`registry.weights.sketch_build.block_rows`/``block_columns``), in both
readings (the residual stream as the input or as the output axis). A merged model's change from
its base, seen through the two models' raw blocks, can then be compared with it directly
(:mod:`registry.weights.adapter_match`).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from registry.errors import WeightsError
from registry.weights.arrays import safetensors_arrays
from registry.weights.reader import ModelSource
from registry.weights.sketch_build import block_columns, block_rows, layer_of

ADAPTER_VERSION = 1
ADAPTER_CONFIG = "adapter_config.json"
_FACTOR = re.compile(
    r"^(?:base_model\.model\.)?(?P<module>.+)\.lora_(?P<which>[AB])(?:\.[^.]+)?\.weight$"
)


@dataclass
class AdapterTarget:
    """One target module: its delta ``scale * B @ A`` (rows x cols, as the base stores it)."""

    module: str  # the base's module path, e.g. model.layers.0.self_attn.q_proj
    layer: int | None
    rows: int
    cols: int
    rank: int
    scale: float
    # the delta at a raw block's indices, residual as columns: read with cols as the residual
    # (rows sampled by block_rows(rows)), and with rows as the residual
    by_cols: np.ndarray | None = None
    by_rows: np.ndarray | None = None


@dataclass
class AdapterSketch:
    """An adapter's summary; see the module docstring."""

    version: int
    base: str | None  # base_model_name_or_path as the adapter declares it
    peft_type: str
    dora: bool
    targets: list[AdapterTarget] = field(default_factory=list)

    @property
    def residual(self) -> int:
        """The width most targets share on either axis: the residual stream."""
        widths = Counter(w for t in self.targets for w in {t.rows, t.cols})
        return widths.most_common(1)[0][0] if widths else 0

    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.to_bytes()).hexdigest()

    def to_bytes(self) -> bytes:
        """Deterministic binary form: a JSON header and float32 arrays, zlib-compressed."""
        arrays: list[np.ndarray] = []
        targets = []
        for t in self.targets:
            targets.append(
                {
                    "module": t.module, "layer": t.layer, "rows": t.rows, "cols": t.cols,
                    "rank": t.rank, "scale": t.scale,
                    "by_cols": t.by_cols is not None, "by_rows": t.by_rows is not None,
                }
            )  # fmt: skip
            arrays.extend(a.astype(np.float32) for a in (t.by_cols, t.by_rows) if a is not None)
        header = {
            "version": self.version,
            "base": self.base,
            "peft_type": self.peft_type,
            "dora": self.dora,
            "targets": targets,
            "arrays": [list(a.shape) for a in arrays],
        }
        head = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
        body = b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)
        return zlib.compress(len(head).to_bytes(4, "little") + head + body, 6)

    @classmethod
    def from_bytes(cls, blob: bytes) -> AdapterSketch:
        """Parse :meth:`to_bytes` output; raises ValueError on anything else."""
        try:
            raw = zlib.decompress(blob)
            n = int.from_bytes(raw[:4], "little")
            header = json.loads(raw[4 : 4 + n])
            arrays, offset = [], 4 + n
            for shape in header["arrays"]:
                count = math.prod(shape)
                arrays.append(np.frombuffer(raw, np.float32, count, offset).reshape(shape).copy())
                offset += count * 4
            if header.get("version") != ADAPTER_VERSION:
                raise ValueError(f"unsupported adapter sketch version {header.get('version')}")
            it = iter(arrays)
            targets = [
                AdapterTarget(
                    t["module"], t["layer"], int(t["rows"]), int(t["cols"]), int(t["rank"]),
                    float(t["scale"]),
                    next(it) if t["by_cols"] else None, next(it) if t["by_rows"] else None,
                )
                for t in header["targets"]
            ]  # fmt: skip
            return cls(header["version"], header["base"], header["peft_type"], header["dora"],
                       targets)  # fmt: skip
        except (zlib.error, KeyError, TypeError, StopIteration, json.JSONDecodeError) as exc:
            raise ValueError(f"not a provreg adapter sketch: {exc}") from None


def is_adapter(path: Path) -> bool:
    """Whether ``path`` is a PEFT adapter release (a directory with adapter_config.json)."""
    return path.is_dir() and (path / ADAPTER_CONFIG).is_file()


def read_adapter_config(path: Path) -> dict[str, Any]:
    """The adapter's configuration; raises :class:`WeightsError` when it is not JSON."""
    try:
        config = json.loads((path / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WeightsError(
            f"{path / ADAPTER_CONFIG}: not a readable JSON file ({exc})",
            hint="save the adapter with PEFT's save_pretrained",
        ) from None
    if not isinstance(config, dict):
        raise WeightsError(f"{path / ADAPTER_CONFIG}: not a JSON object")
    return config


def _pattern_value(pattern: dict[str, Any], module: str, default: float) -> float:
    """PEFT's rank_pattern/alpha_pattern: the first key that matches the module's path end."""
    for key, value in (pattern or {}).items():
        if module == key or module.endswith("." + key) or re.fullmatch(key, module):
            return float(value)
    return default


def adapter_sketch(
    path: Path, config: dict[str, Any], factors: dict[str, np.ndarray]
) -> AdapterSketch:
    """The sketch of the adapter at ``path`` from its config and its factor tensors (by name).

    Raises :class:`WeightsError` when a factor is missing its pair or the pair's ranks differ.
    """
    pairs: dict[str, dict[str, np.ndarray]] = {}
    for name, value in factors.items():
        m = _FACTOR.match(name)
        if m and value.ndim == 2:
            pairs.setdefault(m["module"], {})[m["which"]] = value
    if not pairs:
        raise WeightsError(
            f"{path}: no LoRA factors (lora_A/lora_B weights) in the adapter",
            hint="provreg reads LoRA adapters saved by PEFT (adapter_model.safetensors)",
        )
    fan_in_fan_out = bool(config.get("fan_in_fan_out"))
    alpha = float(config.get("lora_alpha") or config.get("r") or 8)
    rslora = bool(config.get("use_rslora"))
    targets: list[AdapterTarget] = []
    for module in sorted(pairs):
        pair = pairs[module]
        if set(pair) != {"A", "B"} or pair["A"].shape[0] != pair["B"].shape[1]:
            raise WeightsError(
                f"{path}: {module} has lora_A {_shape(pair.get('A'))} and lora_B "
                f"{_shape(pair.get('B'))}, which do not multiply",
                hint="the adapter file is incomplete or damaged; save it again with PEFT",
            )
        a, b = pair["A"].astype(np.float64), pair["B"].astype(np.float64)
        rank = a.shape[0]
        mod_alpha = _pattern_value(config.get("alpha_pattern") or {}, module, alpha)
        scale = mod_alpha / (math.sqrt(rank) if rslora else rank)
        out, inp = b.shape[0], a.shape[1]
        rows, cols = (inp, out) if fan_in_fan_out else (out, inp)
        targets.append(AdapterTarget(module, layer_of(module), rows, cols, rank, scale))
        targets[-1].by_cols, targets[-1].by_rows = _readings(a, b, scale, fan_in_fan_out)
    return AdapterSketch(
        version=ADAPTER_VERSION,
        base=config.get("base_model_name_or_path") or None,
        peft_type=str(config.get("peft_type") or "LORA"),
        dora=bool(config.get("use_dora")),
        targets=targets,
    )


def _shape(x: np.ndarray | None) -> str:
    return "missing" if x is None else "x".join(map(str, x.shape))


def _readings(
    a: np.ndarray, b: np.ndarray, scale: float, transposed: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The delta at a raw block's indices, with its columns then its rows as the residual."""

    def delta(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        # stored delta D = scale * B @ A (or its transpose); D[rows][:, cols] from the factors
        if transposed:  # D = (B @ A).T: D[i, j] = (B @ A)[j, i]
            return scale * (b[cols] @ a[:, rows]).T
        return scale * (b[rows] @ a[:, cols])

    n_rows = a.shape[1] if transposed else b.shape[0]
    n_cols = b.shape[0] if transposed else a.shape[1]
    by_cols = delta(block_rows(n_rows), block_columns(n_cols))
    # rows as the residual: the block is D[block_columns(rows)][:, block_rows(cols)].T
    by_rows = delta(block_columns(n_rows), block_rows(n_cols)).T
    return by_cols.astype(np.float32), by_rows.astype(np.float32)


def sketch_adapter(path: Path, source: ModelSource) -> AdapterSketch:
    """The adapter sketch of the adapter release at ``path`` (already opened as ``source``)."""
    if source.format != "safetensors":
        raise WeightsError(
            f"{path}: adapter weights in {source.format} cannot be read",
            hint="provreg reads adapters saved as adapter_model.safetensors",
        )
    factors = {t.name: t.read_rows() for t in safetensors_arrays(source) if ".lora_" in t.name}
    return adapter_sketch(path, read_adapter_config(path), factors)
