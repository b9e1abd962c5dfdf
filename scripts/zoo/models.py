"""The two zoo architectures in plain torch, named exactly like Hugging Face checkpoints.

``LlamaForCausalLM`` (RMSNorm with gains, rotary attention with grouped KV heads, SwiGLU MLP,
untied ``lm_head``) and ``BertForMaskedLM`` (post-LN encoder, GELU MLP, masked-LM head tied to
the word embeddings). Module attribute names mirror ``transformers`` so ``state_dict()`` keys are
the HF tensor names (``model.layers.0.self_attn.q_proj.weight``,
``bert.encoder.layer.0.attention.self.query.weight``...). ``hf_config`` writes the matching
``config.json`` contents.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .corpus import BOS_ID, EOS_ID, PAD_ID, VOCAB_SIZE


@dataclass(frozen=True)
class ModelConfig:
    """Shape of one model; ``arch`` is ``llama`` or ``bert``."""

    arch: str
    hidden: int
    heads: int
    kv_heads: int
    layers: int
    intermediate: int
    seq_len: int
    vocab: int = VOCAB_SIZE
    eps: float = 1e-5
    rope_theta: float = 10000.0

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    def replace(self, **changes: int) -> ModelConfig:
        return dataclasses.replace(self, **changes)


# intermediate sizes are multiples of 32 so every GGUF row is whole quantization blocks; tiny
# has 3 layers so that the committed fixture zoo stays under ~25 MB
SIZES: dict[str, dict[str, ModelConfig]] = {
    "tiny": {
        "llama": ModelConfig("llama", 64, 4, 2, 3, 128, 64),
        "bert": ModelConfig("bert", 64, 4, 4, 3, 128, 64, eps=1e-12),
    },
    "small": {
        "llama": ModelConfig("llama", 256, 8, 4, 8, 704, 128),
        "bert": ModelConfig("bert", 256, 8, 8, 8, 1024, 128, eps=1e-12),
    },
}


def hf_config(cfg: ModelConfig) -> dict:
    """Return the Hugging Face ``config.json`` for ``cfg``."""
    common = {
        "hidden_size": cfg.hidden,
        "num_attention_heads": cfg.heads,
        "num_key_value_heads": cfg.kv_heads,
        "intermediate_size": cfg.intermediate,
        "num_hidden_layers": cfg.layers,
        "vocab_size": cfg.vocab,
        "head_dim": cfg.head_dim,
        "max_position_embeddings": cfg.seq_len,
        "pad_token_id": PAD_ID,
        "torch_dtype": "float32",
    }
    if cfg.arch == "llama":
        return {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            **common,
            "hidden_act": "silu",
            "rms_norm_eps": cfg.eps,
            "rope_theta": cfg.rope_theta,
            "attention_bias": False,
            "mlp_bias": False,
            "tie_word_embeddings": False,
            "bos_token_id": BOS_ID,
            "eos_token_id": EOS_ID,
        }
    return {
        "architectures": ["BertForMaskedLM"],
        "model_type": "bert",
        **common,
        "hidden_act": "gelu",
        "layer_norm_eps": cfg.eps,
        "type_vocab_size": 2,
        "position_embedding_type": "absolute",
        "tie_word_embeddings": True,
    }


# ---------------------------------------------------------------- llama


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rotary_tables(cfg: ModelConfig, t: int, dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
    """HF-style (half-split) rotary cos/sin tables of shape (t, head_dim)."""
    inv = 1.0 / cfg.rope_theta ** (
        torch.arange(0, cfg.head_dim, 2, dtype=torch.float64) / cfg.head_dim
    )
    freqs = torch.outer(torch.arange(t, dtype=torch.float64), inv)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


class LlamaAttention(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        hd = cfg.head_dim
        self.q_proj = nn.Linear(cfg.hidden, cfg.heads * hd, bias=False)
        self.k_proj = nn.Linear(cfg.hidden, cfg.kv_heads * hd, bias=False)
        self.v_proj = nn.Linear(cfg.hidden, cfg.kv_heads * hd, bias=False)
        self.o_proj = nn.Linear(cfg.heads * hd, cfg.hidden, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        c = self.cfg
        q = self.q_proj(x).view(b, t, c.heads, c.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, c.kv_heads, c.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, c.kv_heads, c.head_dim).transpose(1, 2)
        q = q * cos + _rotate_half(q) * sin
        k = k * cos + _rotate_half(k) * sin
        rep = c.heads // c.kv_heads
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o_proj(y.transpose(1, 2).reshape(b, t, c.heads * c.head_dim))


class LlamaMLP(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(cfg.hidden, cfg.intermediate, bias=False)
        self.up_proj = nn.Linear(cfg.hidden, cfg.intermediate, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate, cfg.hidden, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.self_attn = LlamaAttention(cfg)
        self.mlp = LlamaMLP(cfg)
        self.input_layernorm = RMSNorm(cfg.hidden, cfg.eps)
        self.post_attention_layernorm = RMSNorm(cfg.hidden, cfg.eps)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaModel(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab, cfg.hidden)
        self.layers = nn.ModuleList(LlamaDecoderLayer(cfg) for _ in range(cfg.layers))
        self.norm = RMSNorm(cfg.hidden, cfg.eps)


class LlamaForCausalLM(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.model = LlamaModel(cfg)
        self.lm_head = nn.Linear(cfg.hidden, cfg.vocab, bias=False)
        self.apply(_init_weights)

    def residual(self, ids: torch.Tensor) -> torch.Tensor:
        """Residual stream after the last layer (before the final norm)."""
        x = self.model.embed_tokens(ids)
        cos, sin = rotary_tables(self.cfg, ids.shape[1], x.dtype)
        for layer in self.model.layers:
            x = layer(x, cos, sin)
        return x

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.lm_head(self.model.norm(self.residual(ids)))


# ---------------------------------------------------------------- bert


class BertEmbeddings(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg.vocab, cfg.hidden)
        self.position_embeddings = nn.Embedding(cfg.seq_len, cfg.hidden)
        self.token_type_embeddings = nn.Embedding(2, cfg.hidden)
        self.LayerNorm = nn.LayerNorm(cfg.hidden, eps=cfg.eps)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(ids.shape[1])
        x = self.word_embeddings(ids) + self.position_embeddings(pos)
        x = x + self.token_type_embeddings(torch.zeros_like(ids))
        return self.LayerNorm(x)


class BertSelfAttention(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.query = nn.Linear(cfg.hidden, cfg.hidden)
        self.key = nn.Linear(cfg.hidden, cfg.hidden)
        self.value = nn.Linear(cfg.hidden, cfg.hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        h, d = self.cfg.heads, self.cfg.head_dim
        q, k, v = (
            m(x).view(b, t, h, d).transpose(1, 2) for m in (self.query, self.key, self.value)
        )
        y = F.scaled_dot_product_attention(q, k, v)
        return y.transpose(1, 2).reshape(b, t, h * d)


class BertDenseLN(nn.Module):
    """``attention.output`` and ``output``: dense, residual add, post-LN."""

    def __init__(self, d_in: int, cfg: ModelConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(d_in, cfg.hidden)
        self.LayerNorm = nn.LayerNorm(cfg.hidden, eps=cfg.eps)

    def forward(self, h: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(h) + residual)


class BertAttention(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.self = BertSelfAttention(cfg)
        self.output = BertDenseLN(cfg.hidden, cfg)


class BertIntermediate(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(cfg.hidden, cfg.intermediate)


class BertLayer(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.attention = BertAttention(cfg)
        self.intermediate = BertIntermediate(cfg)
        self.output = BertDenseLN(cfg.intermediate, cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.attention.output(self.attention.self(x), x)
        return self.output(F.gelu(self.intermediate.dense(x)), x)


class BertEncoder(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(cfg) for _ in range(cfg.layers))


class BertModel(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.embeddings = BertEmbeddings(cfg)
        self.encoder = BertEncoder(cfg)


class BertTransform(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(cfg.hidden, cfg.hidden)
        self.LayerNorm = nn.LayerNorm(cfg.hidden, eps=cfg.eps)


class BertPredictionHead(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.transform = BertTransform(cfg)
        self.bias = nn.Parameter(torch.zeros(cfg.vocab))


class BertOnlyMLMHead(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.predictions = BertPredictionHead(cfg)


class BertForMaskedLM(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.bert = BertModel(cfg)
        self.cls = BertOnlyMLMHead(cfg)
        self.apply(_init_weights)

    def residual(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.bert.embeddings(ids)
        for layer in self.bert.encoder.layer:
            x = layer(x)
        return x

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        t = self.cls.predictions.transform
        h = t.LayerNorm(F.gelu(t.dense(self.residual(ids))))
        return F.linear(h, self.bert.embeddings.word_embeddings.weight, self.cls.predictions.bias)


# ---------------------------------------------------------------- shared


def _init_weights(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.normal_(m.weight, std=0.02 * math.sqrt(64 / m.in_features))
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Embedding):
        nn.init.normal_(m.weight, std=0.02 * 8)


def build_model(cfg: ModelConfig) -> nn.Module:
    """Return a freshly initialised model for ``cfg`` (uses the global torch RNG)."""
    return LlamaForCausalLM(cfg) if cfg.arch == "llama" else BertForMaskedLM(cfg)


def load_model(cfg: ModelConfig, state: dict[str, torch.Tensor]) -> nn.Module:
    """Return a model of shape ``cfg`` holding ``state`` (float32), strictly matched."""
    model = build_model(cfg)
    model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    return model


def state_of(model: nn.Module) -> dict[str, torch.Tensor]:
    """Return a detached float32 copy of the model's tensors, HF names, sorted."""
    return {k: v.detach().clone().float() for k, v in sorted(model.state_dict().items())}
