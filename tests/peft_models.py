"""Real LoRA adapters made with PEFT on the committed tiny llama models (tests/fixtures/realzoo):
trained a few AdamW steps on seeded random tokens, saved with ``save_pretrained``, and merged
with ``merge_and_unload``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REALZOO = Path(__file__).parent / "fixtures" / "realzoo"


@dataclass(frozen=True)
class LoraRecipe:
    base: str  # a realzoo model id
    seed: int
    targets: tuple[str, ...] = ("q_proj", "v_proj", "down_proj")
    rank: int = 4
    alpha: int = 8
    steps: int = 15
    rslora: bool = False
    zoo: Path = REALZOO  # where the base is


@dataclass(frozen=True)
class LoraRelease:
    adapter: Path
    merged: Path


def build_lora(recipe: LoraRecipe, out: Path) -> LoraRelease:
    """Train the recipe's adapter on its base, save it, and save the base with it merged."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(1)
    torch.manual_seed(recipe.seed)
    model = AutoModelForCausalLM.from_pretrained(recipe.zoo / recipe.base)
    config = LoraConfig(
        r=recipe.rank,
        lora_alpha=recipe.alpha,
        target_modules=list(recipe.targets),
        use_rslora=recipe.rslora,
    )
    peft_model = get_peft_model(model, config)
    trainable = [p for p in peft_model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=2e-3)
    tokens = torch.Generator().manual_seed(1000 + recipe.seed)
    for _ in range(recipe.steps):
        batch = torch.randint(0, 256, (4, 32), generator=tokens)
        peft_model(input_ids=batch, labels=batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    release = LoraRelease(out / "adapter", out / "merged")
    peft_model.save_pretrained(release.adapter)
    peft_model.merge_and_unload().save_pretrained(release.merged)
    return release
