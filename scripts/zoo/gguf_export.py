"""Write a llama state dict as a llama.cpp GGUF file, quantized with the ``gguf`` package.

Tensors get llama.cpp names (``token_embd.weight``, ``blk.N.attn_q.weight``...), the q/k rows are
permuted inside each head the way ``convert_hf_to_gguf.py`` (``LlamaModel.permute``) does for
llama.cpp's interleaved rotary layout, matrices are quantized (Q8_0, Q4_0, Q4_1: the types gguf
0.19 can quantize in numpy), and 1-D norm gains stay F32. The byte-level vocabulary goes into
the metadata as a SentencePiece-style byte-fallback token list.
"""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np
import torch

from .corpus import BOS_ID, EOS_ID, PAD_ID, SPECIALS, token_strings
from .models import ModelConfig

QTYPES = {
    "q8_0": (gguf.GGMLQuantizationType.Q8_0, gguf.LlamaFileType.MOSTLY_Q8_0),
    "q4_0": (gguf.GGMLQuantizationType.Q4_0, gguf.LlamaFileType.MOSTLY_Q4_0),
    "q4_1": (gguf.GGMLQuantizationType.Q4_1, gguf.LlamaFileType.MOSTLY_Q4_1),
}

_LAYER_NAMES = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}


def permute_qk(w: np.ndarray, n_head: int, n_head_kv: int | None = None) -> np.ndarray:
    """llama.cpp's rotary row permutation (``convert_hf_to_gguf.py``, ``LlamaModel.permute``)."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (
        w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
        .swapaxes(1, 2)
        .reshape(w.shape)
    )


def gguf_tensors(state: dict[str, torch.Tensor], cfg: ModelConfig) -> list[tuple[str, np.ndarray]]:
    """Return (llama.cpp name, float32 array) pairs in file order, q/k already permuted."""
    out = [("token_embd.weight", state["model.embed_tokens.weight"])]
    for i in range(cfg.layers):
        for hf, cpp in _LAYER_NAMES.items():
            out.append((f"blk.{i}.{cpp}", state[f"model.layers.{i}.{hf}"]))
    out += [
        ("output_norm.weight", state["model.norm.weight"]),
        ("output.weight", state["lm_head.weight"]),
    ]
    arrays = []
    for name, t in out:
        a = t.detach().float().numpy()
        if name.endswith("attn_q.weight"):
            a = permute_qk(a, cfg.heads, cfg.heads)
        elif name.endswith("attn_k.weight"):
            a = permute_qk(a, cfg.heads, cfg.kv_heads)
        arrays.append((name, np.ascontiguousarray(a, dtype=np.float32)))
    return arrays


def write_gguf(state: dict[str, torch.Tensor], cfg: ModelConfig, path: Path, quant: str) -> None:
    """Write ``state`` as a GGUF file quantized with ``quant`` (``q8_0``, ``q4_0``, ``q4_1``).

    ``output.weight`` is kept at Q8_0 in 4-bit files, as llama.cpp keeps the output matrix at a
    higher precision than the rest.
    """
    qtype, ftype = QTYPES[quant]
    w = gguf.GGUFWriter(path, "llama")
    w.add_name("model")
    w.add_context_length(cfg.seq_len)
    w.add_embedding_length(cfg.hidden)
    w.add_block_count(cfg.layers)
    w.add_feed_forward_length(cfg.intermediate)
    w.add_head_count(cfg.heads)
    w.add_head_count_kv(cfg.kv_heads)
    w.add_rope_dimension_count(cfg.head_dim)
    w.add_rope_freq_base(cfg.rope_theta)
    w.add_layer_norm_rms_eps(cfg.eps)
    w.add_vocab_size(cfg.vocab)
    w.add_file_type(ftype)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    tokens = token_strings()[: cfg.vocab] + [f"<extra{i}>" for i in range(cfg.vocab - 272)]
    types = []
    for i in range(cfg.vocab):
        if i < 256:
            types.append(gguf.TokenType.BYTE)
        elif i in SPECIALS:
            types.append(gguf.TokenType.CONTROL)
        else:
            types.append(gguf.TokenType.UNUSED)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores([0.0] * cfg.vocab)
    w.add_token_types(types)
    w.add_bos_token_id(BOS_ID)
    w.add_eos_token_id(EOS_ID)
    w.add_pad_token_id(PAD_ID)
    for name, a in gguf_tensors(state, cfg):
        if a.ndim == 1:
            w.add_tensor(name, a)
            continue
        t = QTYPES["q8_0"][0] if name == "output.weight" else qtype
        w.add_tensor(name, gguf.quants.quantize(a, t), raw_dtype=t)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
