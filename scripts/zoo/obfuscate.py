"""Function-preserving obfuscation: the weights change beyond recognition, the outputs do not.

Applied transforms (all consistently across every tensor):
  * a residual-stream transform ``Q``: a permutation (llama and bert), or for llama a random
    orthogonal rotation once the RMSNorm gains are folded into the matrices that read them;
  * a permutation of MLP hidden units (and, for SwiGLU, a positive per-unit rescaling of
    ``up_proj`` rows undone in ``down_proj`` columns);
  * a permutation of attention heads (KV groups, and query heads within each group for GQA);
  * paired per-head rescaling: q*a, k/a and v*b, o/b.
``verify`` runs both models on a batch and raises if the logits differ by more than ``atol``.
"""

from __future__ import annotations

import torch

from .models import ModelConfig, load_model

State = dict[str, torch.Tensor]


def _orthogonal(n: int, gen: torch.Generator) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r))


def _perm_matrix(perm: torch.Tensor) -> torch.Tensor:
    return torch.eye(len(perm), dtype=torch.float64)[perm]


def _scales(n: int, gen: torch.Generator) -> torch.Tensor:
    return torch.exp(torch.empty(n, dtype=torch.float64).uniform_(-0.7, 0.7, generator=gen))


def _head_order(cfg: ModelConfig, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """New order of KV heads and of query heads (query heads stay inside their KV group)."""
    rep = cfg.heads // cfg.kv_heads
    kv = torch.randperm(cfg.kv_heads, generator=gen)
    q = torch.cat([g * rep + torch.randperm(rep, generator=gen) for g in kv.tolist()])
    return kv, q


def _blocks(order: torch.Tensor, size: int) -> torch.Tensor:
    """Row indices that reorder whole blocks of ``size`` rows."""
    return (order[:, None] * size + torch.arange(size)[None, :]).flatten()


def _fold_llama_gains(s: State, cfg: ModelConfig) -> None:
    for i in range(cfg.layers):
        p = f"model.layers.{i}."
        for norm, readers in (
            ("input_layernorm", ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj")),
            ("post_attention_layernorm", ("mlp.gate_proj", "mlp.up_proj")),
        ):
            g = s[p + norm + ".weight"]
            for r in readers:
                s[p + r + ".weight"] = s[p + r + ".weight"] * g[None, :]
            s[p + norm + ".weight"] = torch.ones_like(g)
    s["lm_head.weight"] = s["lm_head.weight"] * s["model.norm.weight"][None, :]
    s["model.norm.weight"] = torch.ones_like(s["model.norm.weight"])


def obfuscate_llama(state: State, cfg: ModelConfig, seed: int, rotate: bool = False) -> State:
    """Obfuscate a llama state dict; ``rotate`` folds the norm gains and uses a random rotation
    of the residual stream instead of a permutation."""
    gen = torch.Generator().manual_seed(seed)
    s = {k: v.to(torch.float64) for k, v in state.items()}
    if rotate:
        _fold_llama_gains(s, cfg)
        q_res = _orthogonal(cfg.hidden, gen)
    else:
        q_res = _perm_matrix(torch.randperm(cfg.hidden, generator=gen))
    hd, rep = cfg.head_dim, cfg.heads // cfg.kv_heads
    s["model.embed_tokens.weight"] = s["model.embed_tokens.weight"] @ q_res.T
    s["lm_head.weight"] = s["lm_head.weight"] @ q_res.T
    gains = [k for k in s if k.endswith("norm.weight")]
    if not rotate:  # a permutation moves the gains with the dimensions (folded gains are 1)
        for k in gains:
            s[k] = q_res @ s[k]
    for i in range(cfg.layers):
        p = f"model.layers.{i}."
        kv_order, q_order = _head_order(cfg, gen)
        a, b = _scales(cfg.kv_heads, gen), _scales(cfg.kv_heads, gen)
        a_q, b_q = a.repeat_interleave(rep * hd), b.repeat_interleave(rep * hd)
        wq, wk = s[p + "self_attn.q_proj.weight"], s[p + "self_attn.k_proj.weight"]
        wv, wo = s[p + "self_attn.v_proj.weight"], s[p + "self_attn.o_proj.weight"]
        wq = (wq @ q_res.T)[_blocks(q_order, hd)] * a_q[:, None]
        wk = (wk @ q_res.T)[_blocks(kv_order, hd)] / a.repeat_interleave(hd)[:, None]
        wv = (wv @ q_res.T)[_blocks(kv_order, hd)] * b.repeat_interleave(hd)[:, None]
        wo = (q_res @ wo)[:, _blocks(q_order, hd)] / b_q[None, :]
        s[p + "self_attn.q_proj.weight"], s[p + "self_attn.k_proj.weight"] = wq, wk
        s[p + "self_attn.v_proj.weight"], s[p + "self_attn.o_proj.weight"] = wv, wo
        unit = torch.randperm(cfg.intermediate, generator=gen)
        c = _scales(cfg.intermediate, gen)
        s[p + "mlp.gate_proj.weight"] = (s[p + "mlp.gate_proj.weight"] @ q_res.T)[unit]
        s[p + "mlp.up_proj.weight"] = (s[p + "mlp.up_proj.weight"] @ q_res.T)[unit] * c[:, None]
        s[p + "mlp.down_proj.weight"] = (q_res @ s[p + "mlp.down_proj.weight"])[:, unit] / c
    return {k: v.float() for k, v in s.items()}


def obfuscate_bert(state: State, cfg: ModelConfig, seed: int) -> State:
    """Obfuscate a bert state dict: residual, head and MLP-unit permutations, per-head scaling.
    (Post-LN LayerNorm centres its input, so only a permutation of the residual is exact.)"""
    gen = torch.Generator().manual_seed(seed)
    s = {k: v.to(torch.float64) for k, v in state.items()}
    res = torch.randperm(cfg.hidden, generator=gen)
    hd = cfg.head_dim

    def rows(name: str, idx: torch.Tensor) -> None:
        s[name + ".weight"], s[name + ".bias"] = s[name + ".weight"][idx], s[name + ".bias"][idx]

    for emb in ("word_embeddings", "position_embeddings", "token_type_embeddings"):
        s[f"bert.embeddings.{emb}.weight"] = s[f"bert.embeddings.{emb}.weight"][:, res]
    ln_names = ["bert.embeddings.LayerNorm", "cls.predictions.transform.LayerNorm"]
    t = "cls.predictions.transform.dense"
    s[t + ".weight"] = s[t + ".weight"][:, res]
    rows(t, res)
    for i in range(cfg.layers):
        p = f"bert.encoder.layer.{i}."
        order, _ = _head_order(cfg.replace(kv_heads=cfg.heads), gen)
        a = _scales(cfg.heads, gen).repeat_interleave(hd)
        b = _scales(cfg.heads, gen).repeat_interleave(hd)
        idx = _blocks(order, hd)
        for name, scale in (("query", a), ("key", 1 / a), ("value", b)):
            n = p + "attention.self." + name
            s[n + ".weight"] = s[n + ".weight"][:, res]
            rows(n, idx)
            s[n + ".weight"], s[n + ".bias"] = (
                s[n + ".weight"] * scale[:, None],
                s[n + ".bias"] * scale,
            )
        o = p + "attention.output.dense"
        s[o + ".weight"] = s[o + ".weight"][:, idx] / b[None, :]
        rows(o, res)
        unit = torch.randperm(cfg.intermediate, generator=gen)
        n = p + "intermediate.dense"
        s[n + ".weight"] = s[n + ".weight"][:, res]
        rows(n, unit)
        n = p + "output.dense"
        s[n + ".weight"] = s[n + ".weight"][:, unit]
        rows(n, res)
        ln_names += [p + "attention.output.LayerNorm", p + "output.LayerNorm"]
    for ln in ln_names:
        rows(ln, res)
    return {k: v.float() for k, v in s.items()}


@torch.no_grad()
def verify(
    cfg: ModelConfig, original: State, transformed: State, ids: torch.Tensor, atol: float = 1e-4
) -> float:
    """Return the max absolute logit difference; raise ``RuntimeError`` above ``atol``."""
    a = load_model(cfg, original).eval()(ids)
    b = load_model(cfg, transformed).eval()(ids)
    diff = float((a - b).abs().max())
    if not diff <= atol:
        raise RuntimeError(f"obfuscation changed the function: max logit diff {diff:.3g}")
    return diff
