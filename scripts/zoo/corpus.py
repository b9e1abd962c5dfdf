"""Real English text available offline, a byte-level tokenizer, and batch samplers.

The text is CPython's own documentation corpus (``pydoc_data.topics``), so every machine with
Python has it; it is cut into fixed slices (pretraining, two fine-tuning slices, held-out) so
fine-tunes really see different text. Token ids are the 256 byte values plus a few specials,
padded to a vocabulary of 272 rows, so every model in the zoo shares one vocabulary.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch

PAD_ID, BOS_ID, EOS_ID, MASK_ID = 256, 257, 258, 259
SPECIALS = {PAD_ID: "<pad>", BOS_ID: "<s>", EOS_ID: "</s>", MASK_ID: "<mask>"}
VOCAB_SIZE = 272  # 256 bytes + 4 specials, padded to a multiple of 16

# fractions of the corpus for each slice, in order
_SLICES = (("pretrain", 0.70), ("finetune_a", 0.10), ("finetune_b", 0.10), ("heldout", 0.10))


def token_strings() -> list[str]:
    """Return the vocabulary as strings (SentencePiece byte-fallback style ``<0x41>``)."""
    out = [f"<0x{i:02X}>" for i in range(256)]
    for i in range(256, VOCAB_SIZE):
        out.append(SPECIALS.get(i, f"<unused{i - 256}>"))
    return out


def encode(text: str) -> list[int]:
    """Return the byte ids of ``text`` (UTF-8)."""
    return list(text.encode("utf-8"))


@dataclass(frozen=True)
class Corpus:
    """Token ids of each slice, and a digest of the text they came from."""

    slices: dict[str, torch.Tensor]
    sha256: str
    n_bytes: int


def load_corpus() -> Corpus:
    """Build the corpus from ``pydoc_data.topics`` (documents in sorted key order)."""
    from pydoc_data.topics import topics

    text = "\n\n".join(f"{key}\n{topics[key]}" for key in sorted(topics))
    data = text.encode("utf-8")
    ids = torch.tensor(list(data), dtype=torch.long)
    slices: dict[str, torch.Tensor] = {}
    start = 0
    for i, (name, frac) in enumerate(_SLICES):
        end = len(ids) if i == len(_SLICES) - 1 else start + int(frac * len(ids))
        slices[name] = ids[start:end]
        start = end
    return Corpus(slices=slices, sha256=hashlib.sha256(data).hexdigest(), n_bytes=len(data))


class WindowSampler:
    """Random windows of one slice, drawn from a private generator (its own data order)."""

    def __init__(self, ids: torch.Tensor, seq_len: int, batch: int, seed: int) -> None:
        self.ids, self.seq_len, self.batch = ids, seq_len, batch
        self.gen = torch.Generator().manual_seed(seed)

    def next(self) -> torch.Tensor:
        """Return a (batch, seq_len + 1) tensor of consecutive token ids."""
        hi = len(self.ids) - self.seq_len - 1
        starts = torch.randint(0, hi, (self.batch,), generator=self.gen)
        return torch.stack([self.ids[s : s + self.seq_len + 1] for s in starts.tolist()])


def fixed_windows(ids: torch.Tensor, seq_len: int, n: int) -> torch.Tensor:
    """Return ``n`` evenly spaced windows (n, seq_len + 1): a fixed evaluation batch."""
    hi = len(ids) - seq_len - 1
    starts = torch.linspace(0, hi, n).long().tolist()
    return torch.stack([ids[s : s + seq_len + 1] for s in starts])


def mask_tokens(
    windows: torch.Tensor, gen: torch.Generator, prob: float = 0.15
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT masking: returns (inputs, labels) with labels -100 where nothing is predicted."""
    x = windows[:, :-1].clone()
    labels = x.clone()
    chosen = torch.rand(x.shape, generator=gen) < prob
    labels[~chosen] = -100
    roll = torch.rand(x.shape, generator=gen)
    x[chosen & (roll < 0.8)] = MASK_ID
    rand_ids = torch.randint(0, 256, x.shape, generator=gen)
    swap = chosen & (roll >= 0.8) & (roll < 0.9)
    x[swap] = rand_ids[swap]
    return x, labels
