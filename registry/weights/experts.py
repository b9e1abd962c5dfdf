"""Mixture-of-experts layouts: stacked expert tensors read as one matrix per expert.

Checkpoints store experts either one 2-D matrix per expert (``experts.3.w1``) or stacked in
3-D tensors, ``experts.gate_up_proj`` [E, 2f, d] and ``experts.down_proj`` [E, d, f] (the
layout transformers computes with; Qwen-MoE, GPT-OSS, llama.cpp's ``ffn_*_exps``). A stacked
tensor is sketched as E matrices named like the per-expert layout, a fused gate/up split in its
two halves, so both layouts give the same records. Records of one layer are matched to each
other by content, so the order of experts does not matter.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

_EXPERT = re.compile(r"(?:^|[._/])experts?[._/](\d+)(?:[._/]|$)", re.I)
_STACKED = re.compile(r"^(?P<head>.*?experts?)(?P<sep>[._/])(?P<tail>.+)$", re.I)
_FUSED = re.compile(r"gate_up|w13|gate_up_proj", re.I)


def expert_of(name: str) -> int | None:
    """The expert number a tensor's name carries, if any."""
    m = _EXPERT.search(name)
    return int(m.group(1)) if m else None


@dataclass
class ExpertSlice:
    """Expert ``index`` of a stacked tensor, or rows ``[lo, hi)`` of it (a fused gate/up half),
    read through the stacked tensor's values."""

    name: str
    shape: tuple[int, ...]
    storage: str
    stacked: Any
    index: int
    lo: int
    hi: int

    def _matrix(self) -> np.ndarray:
        return np.asarray(self.stacked.values()[self.index][self.lo : self.hi])

    def read_rows(self, index: np.ndarray | None = None) -> np.ndarray:
        m = self._matrix()
        return np.asarray(m if index is None else m[index], dtype=np.float32)

    def read_columns(self, index: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        m = self._matrix()
        picked = m[:, index] if rows is None else m[np.ix_(rows, index)]
        return np.asarray(picked, dtype=np.float32)


def _slice_name(name: str, expert: int, part: str = "") -> str:
    m = _STACKED.match(name)
    if m is None:
        return f"{name}.{expert}{part}"
    return f"{m['head']}{m['sep']}{expert}{m['sep']}{m['tail']}{part}"


def expand_experts(tensors: Sequence[Any]) -> list[Any]:
    """The tensors with every stacked 3-D expert tensor replaced by its per-expert matrices."""
    out: list[Any] = []
    for t in tensors:
        if len(t.shape) != 3 or min(t.shape[1:]) <= 1 or not hasattr(t, "values"):
            out.append(t)
            continue
        experts, rows, cols = t.shape
        halves = [(0, rows, "")]
        if _FUSED.search(t.name) and rows % 2 == 0:
            halves = [(0, rows // 2, ".gate"), (rows // 2, rows, ".up")]
        for e in range(experts):
            for lo, hi, part in halves:
                out.append(
                    ExpertSlice(
                        _slice_name(t.name, e, part), (hi - lo, cols), t.storage, t, e, lo, hi
                    )
                )
    return out
