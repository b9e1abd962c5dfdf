"""Shared state of one zoo build: the writer, the corpus, the training plan and the seed.

``BuildContext.train`` runs one seeded training job (from scratch or from a state) and logs its
losses; ``derive_seed`` gives every job and transform its own stable seed.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .corpus import Corpus, fixed_windows
from .models import ModelConfig, build_model, load_model, state_of
from .train import TrainPlan, evaluate, train, train_lora
from .writer import ZooWriter

State = dict[str, torch.Tensor]


def derive_seed(seed: int, label: str) -> int:
    """A stable 31-bit seed for one training run or transform."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{label}".encode()).digest()[:4], "big") >> 1


@dataclass
class BuildContext:
    zoo: ZooWriter
    corpus: Corpus
    plan: TrainPlan
    seed: int
    log: Callable[[str], None]

    def eval_loss(self, cfg: ModelConfig, state: State) -> float:
        """Held-out loss of ``state``."""
        n = self.plan.eval_windows
        return evaluate(load_model(cfg, state), cfg, self.corpus.slices["heldout"], n)

    def train(
        self,
        cfg: ModelConfig,
        label: str,
        state: State | None,
        kind: str,
        *,
        data: str = "pretrain",
        init: State | None = None,
        frozen: tuple[str, ...] = (),
    ) -> tuple[State, dict]:
        """Train (``pretrain``, ``finetune`` or ``lora``) from ``state``, or from scratch with
        optional ``init`` tensors; return (new state, training record)."""
        s = derive_seed(self.seed, label)
        torch.manual_seed(s)
        model = build_model(cfg) if state is None else load_model(cfg, state)
        if state is None and init is not None:
            model.load_state_dict({**model.state_dict(), **init})
        p, c = self.plan, self.corpus.slices
        steps, lr = {
            "pretrain": (p.pretrain_steps, p.pretrain_lr),
            "finetune": (p.finetune_steps, p.finetune_lr),
            "lora": (p.lora_steps, p.lora_lr),
        }[kind]
        t0 = time.perf_counter()
        common = {"steps": steps, "lr": lr, "batch": p.batch, "seed": s, "eval_n": p.eval_windows}
        if kind == "lora":
            rec = train_lora(model, cfg, c[data], c["heldout"], **common)
        else:
            rec = train(model, cfg, c[data], c["heldout"], frozen=frozen, **common)
        rec["data"] = data
        self.log(
            f"  {label:<28} {kind:<9} loss {rec['loss_before']:.3f} -> "
            f"{rec['loss_after']:.3f} (held-out {rec['heldout_loss_before']:.3f} -> "
            f"{rec['heldout_loss_after']:.3f})  {time.perf_counter() - t0:.1f}s"
        )
        return state_of(model), rec

    @torch.no_grad()
    def abliteration_direction(self, cfg: ModelConfig, state: State) -> torch.Tensor:
        """Difference of mean final residual states between the two fine-tuning slices."""
        model = load_model(cfg, state).eval()
        means = []
        for name in ("finetune_a", "finetune_b"):
            windows = fixed_windows(self.corpus.slices[name], cfg.seq_len, 16)[:, :-1]
            means.append(model.residual(windows).mean(dim=(0, 1)))
        return means[0] - means[1]
