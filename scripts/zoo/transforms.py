"""Weight-space derivatives that need no training: pruning, layer dropping, merging, the rank-1
"abliteration" edit and vocabulary extension.

Every function takes an HF-named float32 state dict (and the model shape where it changes) and
returns a new one; inputs are never modified.
"""

from __future__ import annotations

import re

import torch

from .models import ModelConfig

_LAYER_RE = {
    "llama": re.compile(r"^model\.layers\.(\d+)\."),
    "bert": re.compile(r"^bert\.encoder\.layer\.(\d+)\."),
}

# matrices that write into the residual stream, and whether their rows (dim 0) or columns index it
_RESIDUAL_WRITERS = {
    "llama": (r"self_attn\.o_proj\.weight$", r"mlp\.down_proj\.weight$"),
    "bert": (r"attention\.output\.dense\.weight$", r"layer\.\d+\.output\.dense\.weight$"),
}
_EMBEDDINGS = {
    "llama": ("model.embed_tokens.weight",),
    "bert": (
        "bert.embeddings.word_embeddings.weight",
        "bert.embeddings.position_embeddings.weight",
        "bert.embeddings.token_type_embeddings.weight",
    ),
}


def layer_matrices(state: dict[str, torch.Tensor], arch: str) -> list[str]:
    """Names of the 2-D weight matrices inside the transformer blocks."""
    return [k for k, v in state.items() if v.ndim == 2 and _LAYER_RE[arch].match(k)]


def prune_magnitude(
    state: dict[str, torch.Tensor], arch: str, fraction: float = 0.5
) -> dict[str, torch.Tensor]:
    """Set the ``fraction`` smallest-magnitude entries of every block matrix to exactly 0."""
    out = dict(state)
    for name in layer_matrices(state, arch):
        w = state[name]
        k = int(fraction * w.numel())
        order = w.abs().flatten().argsort(stable=True)
        flat = w.flatten().clone()
        flat[order[:k]] = 0.0
        out[name] = flat.view_as(w)
    return out


def drop_layers(
    state: dict[str, torch.Tensor], cfg: ModelConfig, drop: list[int]
) -> tuple[dict[str, torch.Tensor], ModelConfig]:
    """Remove the blocks in ``drop`` and renumber the rest; returns the state and new shape."""
    pattern = _LAYER_RE[cfg.arch]
    keep = [i for i in range(cfg.layers) if i not in drop]
    renumber = {old: new for new, old in enumerate(keep)}
    out: dict[str, torch.Tensor] = {}
    for name, tensor in state.items():
        m = pattern.match(name)
        if m is None:
            out[name] = tensor
        elif int(m.group(1)) in renumber:
            new_index = str(renumber[int(m.group(1))])
            out[name[: m.start(1)] + new_index + name[m.end(1) :]] = tensor
    return dict(sorted(out.items())), cfg.replace(layers=len(keep))


def merge_linear(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Element-wise mean of several models of one shape."""
    return {k: torch.stack([s[k] for s in states]).mean(0) for k in states[0]}


def merge_ties(
    base: dict[str, torch.Tensor], states: list[dict[str, torch.Tensor]], density: float = 0.2
) -> dict[str, torch.Tensor]:
    """TIES merge (Yadav et al. 2023): trim each task vector to its top ``density`` magnitudes,
    elect a sign per entry by summed mass, average only the agreeing entries, add to ``base``."""
    out = {}
    for name, b in base.items():
        deltas = []
        for s in states:
            d = (s[name] - b).flatten()
            k = max(1, int(density * d.numel()))
            keep = d.abs().argsort(descending=True, stable=True)[:k]
            trimmed = torch.zeros_like(d)
            trimmed[keep] = d[keep]
            deltas.append(trimmed)
        stacked = torch.stack(deltas)
        sign = torch.sign(stacked.sum(0))
        agree = (torch.sign(stacked) == sign) & (stacked != 0)
        count = agree.sum(0).clamp(min=1)
        merged = (stacked * agree).sum(0) / count
        out[name] = b + merged.view_as(b)
    return out


def abliterate(
    state: dict[str, torch.Tensor], arch: str, direction: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Project the unit residual direction ``r`` out of every matrix that writes the residual
    stream: block output matrices (rows index the residual: W <- W - r r^T W) and embedding
    tables (columns index it: E <- E - E r r^T)."""
    r = (direction / direction.norm()).to(torch.float64)
    out = dict(state)
    writers = [re.compile(p) for p in _RESIDUAL_WRITERS[arch]]
    for name, w in state.items():
        w64 = w.to(torch.float64)
        if any(p.search(name) for p in writers):
            out[name] = (w64 - torch.outer(r, r @ w64)).float()
        elif name in _EMBEDDINGS[arch]:
            out[name] = (w64 - torch.outer(w64 @ r, r)).float()
    return out


def extend_vocab(
    state: dict[str, torch.Tensor], cfg: ModelConfig, extra: int, seed: int
) -> tuple[dict[str, torch.Tensor], ModelConfig]:
    """Append ``extra`` rows to the token embedding (and ``lm_head`` / MLM bias), initialised as
    the mean old row plus small noise, as tokenizer-extension recipes do. Old rows are kept."""
    gen = torch.Generator().manual_seed(seed)
    out = dict(state)
    names = (
        ["model.embed_tokens.weight", "lm_head.weight"]
        if cfg.arch == "llama"
        else ["bert.embeddings.word_embeddings.weight"]
    )
    for name in names:
        w = state[name]
        noise = torch.randn(extra, w.shape[1], generator=gen) * w.std() * 0.1
        out[name] = torch.cat([w, w.mean(0, keepdim=True) + noise])
    if cfg.arch == "bert":
        bias = state["cls.predictions.bias"]
        out["cls.predictions.bias"] = torch.cat([bias, bias.mean().repeat(extra)])
    return out, cfg.replace(vocab=cfg.vocab + extra)


def cast(state: dict[str, torch.Tensor], dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Pure dtype cast of every tensor."""
    return {k: v.to(dtype) for k, v in state.items()}
