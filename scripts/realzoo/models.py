"""Tiny but real ``transformers`` models, trained on the zoo's text with a plain AdamW loop.

Four architectures, each built from its own ``transformers`` config class so tensor names,
layouts and quirks are the library's own: ``llama`` (RMSNorm, rotary, GQA, untied head),
``qwen2`` (the same plus q/k/v biases), ``gpt2`` (fused ``c_attn`` Conv1D stored (in, out), learned
positions, tied head) and ``bert`` (post-LN encoder with biases, position and token-type tables,
tied masked-LM head). All share the byte-level vocabulary of ``scripts.zoo.corpus``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from scripts.zoo.corpus import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    VOCAB_SIZE,
    WindowSampler,
    fixed_windows,
    mask_tokens,
)

ARCHS = ("llama", "qwen2", "gpt2", "bert")


@dataclass(frozen=True)
class Shape:
    hidden: int = 64
    heads: int = 4
    kv_heads: int = 2
    layers: int = 2
    intermediate: int = 128
    seq_len: int = 64
    vocab: int = VOCAB_SIZE


TINY = Shape()


def hf_config(arch: str, shape: Shape = TINY, **changes: int):
    """The ``transformers`` config of one tiny model (``changes`` override shape fields)."""
    import transformers as tf

    s = Shape(**{**shape.__dict__, **changes})
    common = {"vocab_size": s.vocab, "pad_token_id": PAD_ID}
    if arch in ("llama", "qwen2"):
        cls = tf.LlamaConfig if arch == "llama" else tf.Qwen2Config
        extra = {} if arch == "llama" else {"use_sliding_window": False}
        return cls(
            hidden_size=s.hidden,
            intermediate_size=s.intermediate,
            num_hidden_layers=s.layers,
            num_attention_heads=s.heads,
            num_key_value_heads=s.kv_heads,
            max_position_embeddings=s.seq_len,
            tie_word_embeddings=False,
            bos_token_id=BOS_ID,
            eos_token_id=EOS_ID,
            **common,
            **extra,
        )
    if arch == "gpt2":
        return tf.GPT2Config(
            n_embd=s.hidden,
            n_layer=s.layers,
            n_head=s.heads,
            n_inner=s.intermediate,
            n_positions=s.seq_len,
            bos_token_id=BOS_ID,
            eos_token_id=EOS_ID,
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
            **common,
        )
    if arch == "bert":
        return tf.BertConfig(
            hidden_size=s.hidden,
            num_hidden_layers=s.layers,
            num_attention_heads=s.heads,
            intermediate_size=s.intermediate,
            max_position_embeddings=s.seq_len,
            type_vocab_size=2,
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
            **common,
        )
    raise ValueError(f"unknown architecture {arch}")


def model_class(arch: str):
    import transformers as tf

    return {
        "llama": tf.LlamaForCausalLM,
        "qwen2": tf.Qwen2ForCausalLM,
        "gpt2": tf.GPT2LMHeadModel,
        "bert": tf.BertForMaskedLM,
    }[arch]


def new_model(arch: str, seed: int, **changes: int) -> nn.Module:
    """A freshly initialised model (the library's own initialisation, seeded)."""
    torch.manual_seed(seed)
    cfg = hf_config(arch, **changes)
    cfg._attn_implementation = "eager"
    return model_class(arch)(cfg)


def embedding_names(arch: str) -> tuple[str, ...]:
    """The token embedding table's name in ``state_dict`` (the first)."""
    return {
        "llama": ("model.embed_tokens.weight",),
        "qwen2": ("model.embed_tokens.weight",),
        "gpt2": ("transformer.wte.weight",),
        "bert": ("bert.embeddings.word_embeddings.weight",),
    }[arch]


def layer_prefix(arch: str, i: int) -> str:
    return {
        "llama": f"model.layers.{i}.",
        "qwen2": f"model.layers.{i}.",
        "gpt2": f"transformer.h.{i}.",
        "bert": f"bert.encoder.layer.{i}.",
    }[arch] + ""


def batch_loss(model: nn.Module, arch: str, windows: torch.Tensor, gen: torch.Generator):
    if arch == "bert":
        x, labels = mask_tokens(windows, gen)
        return model(input_ids=x, labels=labels).loss
    x = windows[:, :-1]
    return model(input_ids=x, labels=x).loss


@torch.no_grad()
def heldout_loss(model: nn.Module, arch: str, heldout: torch.Tensor, n: int = 16) -> float:
    model.eval()
    w = fixed_windows(heldout, model.config.max_position_embeddings, n)
    loss = batch_loss(model, arch, w, torch.Generator().manual_seed(1234))
    model.train()
    return round(float(loss), 4)


def train(
    model: nn.Module,
    arch: str,
    ids: torch.Tensor,
    heldout: torch.Tensor,
    *,
    steps: int,
    lr: float,
    seed: int,
    batch: int = 16,
    trainable: Callable[[str], bool] = lambda name: True,
    schedule: bool = True,
) -> dict:
    """AdamW on the parameters ``trainable`` accepts; returns losses before and after."""
    before = heldout_loss(model, arch, heldout)
    params = []
    for name, p in model.named_parameters():
        p.requires_grad_(trainable(name))
        if p.requires_grad:
            params.append(p)
    seq = model.config.max_position_embeddings
    sampler = WindowSampler(ids, seq, batch, seed)
    gen = torch.Generator().manual_seed(seed + 1)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    warm = max(1, steps // 10)

    def factor(s: int) -> float:
        if not schedule:
            return 1.0
        if s < warm:
            return (s + 1) / warm
        return 0.1 + 0.45 * (1 + math.cos(math.pi * (s - warm) / max(1, steps - warm)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    model.train()
    for _ in range(steps):
        loss = batch_loss(model, arch, sampler.next(), gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
    for p in model.parameters():
        p.requires_grad_(True)
    after = heldout_loss(model, arch, heldout)
    return {
        "steps": steps,
        "lr": lr,
        "seed": seed,
        "heldout_before": before,
        "heldout_after": after,
    }
