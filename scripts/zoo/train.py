"""Training loops: pretraining from scratch, full fine-tuning, LoRA (trained then merged).

Losses are next-token cross-entropy (llama) or masked-LM cross-entropy (bert), measured before
and after on a fixed held-out batch so the manifest can show that every model really learned.
All randomness (init, data order, masking) comes from the seed passed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .corpus import WindowSampler, fixed_windows, mask_tokens
from .models import ModelConfig


@dataclass(frozen=True)
class TrainPlan:
    """How long and how hard each kind of training runs for one zoo size."""

    batch: int
    pretrain_steps: int
    pretrain_lr: float
    finetune_steps: int
    finetune_lr: float
    lora_steps: int
    lora_lr: float
    eval_windows: int = 32


PLANS = {
    "tiny": TrainPlan(32, 400, 3e-3, 150, 1e-3, 150, 3e-3),
    "small": TrainPlan(8, 150, 1.5e-3, 40, 4e-4, 40, 2e-3, eval_windows=16),
}

LORA_RANK, LORA_ALPHA = 8, 16
_LORA_TARGETS = {
    "llama": ("q_proj", "v_proj", "gate_proj", "up_proj", "down_proj"),
    "bert": ("self.query", "self.value", "intermediate.dense", "output.dense"),
}


def batch_loss(model: nn.Module, cfg: ModelConfig, windows: torch.Tensor, gen: torch.Generator):
    """Cross-entropy of one batch of windows (next token for llama, masked tokens for bert)."""
    if cfg.arch == "llama":
        logits = model(windows[:, :-1])
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), windows[:, 1:].reshape(-1))
    x, labels = mask_tokens(windows, gen)
    logits = model(x)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))


@torch.no_grad()
def evaluate(model: nn.Module, cfg: ModelConfig, heldout: torch.Tensor, n: int) -> float:
    """Loss on a fixed held-out batch with fixed masking: comparable across models."""
    model.eval()
    windows = fixed_windows(heldout, cfg.seq_len, n)
    loss = batch_loss(model, cfg, windows, torch.Generator().manual_seed(1234))
    model.train()
    return round(float(loss), 4)


def _losses(
    model: nn.Module, cfg: ModelConfig, ids: torch.Tensor, heldout: torch.Tensor, n: int
) -> tuple[float, float]:
    return evaluate(model, cfg, ids, n), evaluate(model, cfg, heldout, n)


def _record(before: tuple[float, float], after: tuple[float, float]) -> dict:
    """Loss on (fixed windows of) the training text, and on the held-out slice."""
    return {
        "loss_before": before[0],
        "loss_after": after[0],
        "heldout_loss_before": before[1],
        "heldout_loss_after": after[1],
    }


def _run(
    model: nn.Module,
    cfg: ModelConfig,
    params: list[nn.Parameter],
    ids: torch.Tensor,
    steps: int,
    lr: float,
    batch: int,
    seed: int,
) -> None:
    sampler = WindowSampler(ids, cfg.seq_len, batch, seed)
    mask_gen = torch.Generator().manual_seed(seed + 1)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01, betas=(0.9, 0.95))
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: (
            (s + 1) / warm
            if s < warm
            else 0.1 + 0.45 * (1 + math.cos(math.pi * (s - warm) / max(1, steps - warm)))
        ),
    )
    model.train()
    for _ in range(steps):
        loss = batch_loss(model, cfg, sampler.next(), mask_gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()


def train(
    model: nn.Module,
    cfg: ModelConfig,
    ids: torch.Tensor,
    heldout: torch.Tensor,
    *,
    steps: int,
    lr: float,
    batch: int,
    seed: int,
    frozen: tuple[str, ...] = (),
    eval_n: int = 32,
) -> dict:
    """Train every parameter except those named in ``frozen``; return the training record."""
    before = _losses(model, cfg, ids, heldout, eval_n)
    params = []
    for name, p in model.named_parameters():
        p.requires_grad_(name not in frozen)
        if name not in frozen:
            params.append(p)
    _run(model, cfg, params, ids, steps, lr, batch, seed)
    for p in model.parameters():
        p.requires_grad_(True)
    after = _losses(model, cfg, ids, heldout, eval_n)
    return {"steps": steps, "lr": lr, "seed": seed, **_record(before, after)}


class LoRALinear(nn.Module):
    """A frozen linear layer plus a trainable low-rank update ``B @ A * alpha / r``."""

    def __init__(self, base: nn.Linear, rank: int, alpha: int, gen: torch.Generator) -> None:
        super().__init__()
        self.base = base
        self.scale = alpha / rank
        a = torch.empty(rank, base.in_features)
        bound = 1 / math.sqrt(base.in_features)
        self.lora_A = nn.Parameter(a.uniform_(-bound, bound, generator=gen))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, rank))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.lora_A.T @ self.lora_B.T) * self.scale

    def merged(self) -> nn.Linear:
        with torch.no_grad():
            self.base.weight += (self.lora_B @ self.lora_A) * self.scale
        return self.base


def _lora_sites(model: nn.Module, arch: str) -> list[tuple[nn.Module, str]]:
    sites = []
    for name, module in model.named_modules():
        for target in _LORA_TARGETS[arch]:
            if name.endswith(target) and isinstance(module, nn.Linear):
                parent_name, _, attr = name.rpartition(".")
                sites.append((model.get_submodule(parent_name), attr))
    return sites


def train_lora(
    model: nn.Module,
    cfg: ModelConfig,
    ids: torch.Tensor,
    heldout: torch.Tensor,
    *,
    steps: int,
    lr: float,
    batch: int,
    seed: int,
    eval_n: int = 32,
) -> dict:
    """Train rank-8 LoRA adapters with the base frozen, then merge them into the weights."""
    before = _losses(model, cfg, ids, heldout, eval_n)
    for p in model.parameters():
        p.requires_grad_(False)
    gen = torch.Generator().manual_seed(seed)
    sites = _lora_sites(model, cfg.arch)
    adapters = []
    for parent, attr in sites:
        lora = LoRALinear(getattr(parent, attr), LORA_RANK, LORA_ALPHA, gen)
        setattr(parent, attr, lora)
        adapters.append(lora)
    params = [p for a in adapters for p in (a.lora_A, a.lora_B)]
    _run(model, cfg, params, ids, steps, lr, batch, seed)
    for (parent, attr), lora in zip(sites, adapters, strict=True):
        setattr(parent, attr, lora.merged())
    for p in model.parameters():
        p.requires_grad_(True)
    after = _losses(model, cfg, ids, heldout, eval_n)
    return {
        "steps": steps,
        "lr": lr,
        "seed": seed,
        "rank": LORA_RANK,
        "alpha": LORA_ALPHA,
        "targets": list(_LORA_TARGETS[cfg.arch]),
        **_record(before, after),
    }
