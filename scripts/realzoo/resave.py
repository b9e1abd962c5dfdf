"""Re-save a model's tensors in another container, the way third-party tools lay them out.

Numpy only (no torch), so tests can use it on the committed fixtures:

- ``shuffled_safetensors``: every tensor renamed ``w0000``... in a seeded random order (names
  carry no layer number and the file's alphabetical order is not the layer order); no config.
- ``as_onnx``: an ONNX graph whose initializers are named as ``torch.onnx.export`` names them
  (``onnx::MatMul_N`` for linear weights, stored (in, out); module paths for the rest), in a
  seeded random order, each weight wired into the node that uses it (``MatMul``, ``Gather``,
  ``Add``, ``Mul``).
- ``as_gguf``: a GGUF file with llama.cpp's tensor names (``gguf.TensorNameMap``), its
  conventions (q/k rows permuted for rotary in llama, GPT-2 Conv1D weights transposed to
  (out, in), the tied GPT-2 output written as its own tensor) and F32 values, so the weights
  are unchanged (tensors llama.cpp has no name for keep their own).
"""

from __future__ import annotations

import json
from pathlib import Path

import gguf
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import save_file

_CONV1D = (".c_attn.weight", ".c_proj.weight", ".c_fc.weight")
_EMBEDDING_HINTS = ("embed", "wte", "wpe", "embeddings")


def shuffled_safetensors(tensors: dict[str, np.ndarray], out: Path, seed: int) -> Path:
    """Write ``out/model.safetensors`` with obfuscated names in a random order."""
    rng = np.random.default_rng(seed)
    names = sorted(tensors)
    order = rng.permutation(len(names))
    renamed = {
        f"w{int(order[i]):04d}": np.ascontiguousarray(tensors[n]) for i, n in enumerate(names)
    }
    out.mkdir(parents=True, exist_ok=True)
    save_file(renamed, str(out / "model.safetensors"))
    return out


def _is_matrix(name: str, a: np.ndarray) -> bool:
    return a.ndim == 2 and not any(h in name for h in _EMBEDDING_HINTS)


def as_onnx(tensors: dict[str, np.ndarray], path: Path, seed: int) -> Path:
    """Write an ONNX file holding ``tensors`` under exporter-style names, shuffled."""
    rng = np.random.default_rng(seed)
    inits: list[onnx.TensorProto] = []
    nodes: list[onnx.NodeProto] = []
    outputs = []
    x = helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["batch", "width"])
    ids = helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch"])
    counter = int(rng.integers(100, 900))
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name], dtype=np.float32)
        module = "/" + name.rsplit(".", 1)[0].replace(".", "/")
        if _is_matrix(name, a):
            counter += int(rng.integers(1, 9))
            init = f"onnx::MatMul_{counter}"
            stored = a if name.endswith(_CONV1D) else a.T  # (in, out)
            op, ins = "MatMul", ["hidden", init]
        elif a.ndim == 2:
            init, stored, op = f"{module}.weight", a, "Gather"
            ins = [init, "input_ids"]
        else:
            init, stored = f"{module}.{name.rsplit('.', 1)[1]}", a
            op = "Mul" if name.endswith("weight") else "Add"
            ins = ["hidden", init]
        out = f"{module}/{op}_output_{len(nodes)}"
        inits.append(numpy_helper.from_array(np.ascontiguousarray(stored), init))
        nodes.append(helper.make_node(op, ins, [out], name=f"{module}/{op}_{len(nodes)}"))
        outputs.append(helper.make_tensor_value_info(out, TensorProto.FLOAT, None))
    order = rng.permutation(len(inits))
    graph = helper.make_graph(
        nodes, "model", [x, ids], outputs, initializer=[inits[i] for i in order]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


_GGUF_ARCH = {
    "llama": gguf.MODEL_ARCH.LLAMA,
    "qwen2": gguf.MODEL_ARCH.QWEN2,
    "gpt2": gguf.MODEL_ARCH.GPT2,
    "bert": gguf.MODEL_ARCH.BERT,
}


def permute_qk(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's rotary row permutation (``convert_hf_to_gguf.py``, ``LlamaModel.permute``)."""
    return (
        w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
        .swapaxes(1, 2)
        .reshape(w.shape)
    )


def gguf_tensors(
    tensors: dict[str, np.ndarray], config: dict, *, keep_unmapped: bool = False
) -> list[tuple[str, np.ndarray]]:
    """(llama.cpp name, float32 array) in the converter's order and layout.

    The converter drops tensors llama.cpp does not use (BERT's masked-LM head, GPT-2's causal
    masks); ``keep_unmapped`` keeps them under their own names instead (a lossless copy)."""
    arch = config["model_type"]
    layers = config.get("num_hidden_layers", config.get("n_layer"))
    tmap = gguf.get_tensor_name_map(_GGUF_ARCH[arch], layers)
    heads = config.get("num_attention_heads", config.get("n_head"))
    kv_heads = config.get("num_key_value_heads") or heads
    out: list[tuple[str, np.ndarray]] = []
    for name in tensors:
        a = np.asarray(tensors[name], dtype=np.float32)
        hf = name.removeprefix("bert.") if arch == "bert" else name
        new = tmap.get_name(hf, try_suffixes=(".weight", ".bias"))
        dropped = name.endswith((".attn.bias", ".attn.masked_bias")) or hf.startswith("cls.")
        if dropped or new is None:
            if keep_unmapped:
                out.append((name, np.ascontiguousarray(a)))
                continue
            if dropped:
                continue  # the converter drops GPT-2's causal masks and BERT's MLM head
            raise ValueError(f"no llama.cpp name for {name}")
        if arch == "llama" and name.endswith("q_proj.weight"):
            a = permute_qk(a, heads)
        elif arch == "llama" and name.endswith("k_proj.weight"):
            a = permute_qk(a, kv_heads)
        elif arch == "gpt2" and name.endswith(_CONV1D):
            a = a.T
        out.append((new, np.ascontiguousarray(a)))
        if arch == "gpt2" and new == "token_embd.weight":
            out.append(("output.weight", np.ascontiguousarray(a)))
    return out


def write_gguf(
    items: list[tuple[str, np.ndarray]],
    config: dict,
    path: Path,
    qtype: gguf.GGMLQuantizationType | None = None,
) -> Path:
    """Write GGUF with architecture metadata; 2-D tensors quantized with ``qtype`` when given
    and their rows are whole blocks, everything else F32."""
    arch = config["model_type"]
    hidden = config.get("hidden_size", config.get("n_embd"))
    heads = config.get("num_attention_heads", config.get("n_head"))
    path.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(path, gguf.MODEL_ARCH_NAMES[_GGUF_ARCH[arch]])
    w.add_name("model")
    w.add_context_length(config.get("max_position_embeddings", config.get("n_positions")))
    w.add_embedding_length(hidden)
    w.add_block_count(config.get("num_hidden_layers", config.get("n_layer")))
    w.add_feed_forward_length(config.get("intermediate_size") or config.get("n_inner"))
    w.add_head_count(heads)
    w.add_head_count_kv(config.get("num_key_value_heads") or heads)
    if arch in ("llama", "qwen2"):
        w.add_rope_dimension_count(hidden // heads)
        w.add_rope_freq_base(float(config.get("rope_theta", 10000.0)))
        w.add_layer_norm_rms_eps(float(config.get("rms_norm_eps", 1e-6)))
    else:
        w.add_layer_norm_eps(float(config.get("layer_norm_eps", config.get("layer_norm_epsilon"))))
    w.add_vocab_size(config.get("vocab_size"))
    for name, a in items:
        block = gguf.GGML_QUANT_SIZES[qtype][0] if qtype is not None else 0
        if qtype is not None and a.ndim == 2 and a.shape[1] % block == 0:
            w.add_tensor(name, gguf.quants.quantize(a, qtype), raw_dtype=qtype)
        else:
            w.add_tensor(name, a)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def as_gguf(tensors: dict[str, np.ndarray], config: dict, path: Path) -> Path:
    """A lossless (F32) llama.cpp-style GGUF copy of ``tensors`` (nothing dropped)."""
    return write_gguf(gguf_tensors(tensors, config, keep_unmapped=True), config, path)


def load_config(model_dir: Path) -> dict:
    return json.loads((model_dir / "config.json").read_text())
