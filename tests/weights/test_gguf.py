"""GGUF: tensors and metadata of files written by ``gguf.GGUFWriter``, digests, dequantization,
sketches of quantized models, and every malformed header refused with the file named."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import gguf
import numpy as np
import pytest

from registry.errors import HeaderMalformed, UnsupportedFormat, WeightsError
from registry.weights import fingerprint_path, open_model, tensor_digest
from registry.weights.compare import compare_sketches
from registry.weights.gguf_arrays import GGUFArray, gguf_arrays
from registry.weights.sketching import sketch_path
from tests.weights.conftest import write_safetensors

Q = gguf.GGMLQuantizationType
VOCAB, EMBD, FF, LAYERS = 256, 64, 128, 2


def llama_tensors(seed: int = 11) -> dict[str, np.ndarray]:
    """A tiny llama-shaped model with Hugging Face names, numpy (out, in) orientation."""
    rng = np.random.default_rng(seed)

    def w(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) / np.sqrt(shape[-1])).astype(np.float32)

    out = {"model.embed_tokens.weight": w(VOCAB, EMBD), "model.norm.weight": np.ones(EMBD, "f4")}
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        out |= {
            p + "self_attn.q_proj.weight": w(EMBD, EMBD),
            p + "self_attn.k_proj.weight": w(EMBD, EMBD),
            p + "self_attn.v_proj.weight": w(EMBD, EMBD),
            p + "self_attn.o_proj.weight": w(EMBD, EMBD),
            p + "mlp.gate_proj.weight": w(FF, EMBD),
            p + "mlp.up_proj.weight": w(FF, EMBD),
            p + "mlp.down_proj.weight": w(EMBD, FF),
            p + "input_layernorm.weight": np.ones(EMBD, "f4"),
        }
    out["lm_head.weight"] = w(VOCAB, EMBD)
    return out


_GGUF_NAMES = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
    "input_layernorm": "attn_norm",
}


def gguf_name(hf: str) -> str:
    if hf in _GGUF_NAMES:
        return _GGUF_NAMES[hf]
    _, _, i, *rest = hf.split(".")
    return f"blk.{i}.{_GGUF_NAMES['.'.join(rest[:-1])]}.weight"


def write_gguf(path: Path, tensors: dict[str, np.ndarray], qtype: Q = Q.Q4_0) -> Path:
    """The model as llama.cpp would name it: 2-D weights in ``qtype``, embedding Q8_0, norms F32."""
    w = gguf.GGUFWriter(path, "llama")
    w.add_name("tiny")
    w.add_context_length(128)
    w.add_embedding_length(EMBD)
    w.add_block_count(LAYERS)
    w.add_feed_forward_length(FF)
    w.add_head_count(4)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_0)
    w.add_tokenizer_model("llama")
    w.add_token_list([f"t{i}" for i in range(VOCAB)])
    for hf, value in tensors.items():
        t = Q.F32 if value.ndim == 1 else Q.Q8_0 if "embed" in hf else qtype
        if t in (Q.F32, Q.F16):
            w.add_tensor(gguf_name(hf), value.astype(np.float16 if t == Q.F16 else np.float32))
        else:
            w.add_tensor(gguf_name(hf), gguf.quants.quantize(value, t), raw_dtype=t)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


@pytest.fixture
def q4_file(tmp_path: Path) -> Path:
    return write_gguf(tmp_path / "tiny-Q4_0.gguf", llama_tensors())


def test_tensors_and_metadata(q4_file: Path) -> None:
    source = open_model(q4_file)
    assert source.format == "gguf"
    by_name = {t.name: t for t in source.tensors}
    embd = by_name["token_embd.weight"]
    assert (embd.dtype, embd.shape) == ("Q8_0", (VOCAB, EMBD))
    assert embd.nbytes == VOCAB * EMBD // 32 * 34
    assert by_name["blk.0.ffn_down.weight"].shape == (EMBD, FF)
    assert by_name["blk.1.ffn_up.weight"].dtype == "Q4_0"
    assert by_name["output_norm.weight"].dtype == "F32"
    assert all(t.start % 32 == 0 for t in source.tensors)
    assert source.config is not None
    assert source.config["general.architecture"] == "llama"
    assert source.config["llama.embedding_length"] == EMBD
    assert source.config["tokenizer.ggml.model"] == "llama"
    assert source.config["vocab_size"] == VOCAB
    assert source.config["general.file_type"] == int(gguf.LlamaFileType.MOSTLY_Q4_0)
    assert "tokenizer.ggml.tokens" not in source.config


def test_fingerprint(q4_file: Path) -> None:
    fp = fingerprint_path(q4_file)
    assert fp.format == "gguf"
    assert fp.architecture == "llama"
    assert fp.files[0].sha256 == hashlib.sha256(q4_file.read_bytes()).hexdigest()
    assert {"Q4_0", "Q8_0", "F32"} == set(fp.dtypes)
    norm = next(t for t in open_model(q4_file).tensors if t.name == "output_norm.weight")
    expected = tensor_digest("F32", (EMBD,), np.ones(EMBD, "<f4").tobytes())
    assert next(t.digest for t in fp.tensors if t.name == norm.name) == expected
    assert fingerprint_path(q4_file, workers=1) == fp  # stable across re-open and threading


@pytest.mark.parametrize(("qtype", "tolerance"), [(Q.Q8_0, 0.01), (Q.Q4_0, 0.15), (Q.F16, 1e-3)])
def test_dequantized_values(tmp_path: Path, qtype: Q, tolerance: float) -> None:
    tensors = llama_tensors()
    path = write_gguf(tmp_path / "m.gguf", tensors, qtype)
    arrays = {a.name: a for a in gguf_arrays(open_model(path))}
    original = tensors["model.layers.0.mlp.up_proj.weight"]
    got = arrays["blk.0.ffn_up.weight"].read_rows()
    assert arrays["blk.0.ffn_up.weight"].storage == qtype.name
    assert np.linalg.norm(got - original) / np.linalg.norm(original) < tolerance


def test_row_and_column_subsets_match_full_dequantization(q4_file: Path) -> None:
    arrays = {a.name: a for a in gguf_arrays(open_model(q4_file))}
    for name in ("blk.0.ffn_gate.weight", "token_embd.weight", "output_norm.weight"):
        a = arrays[name]
        assert isinstance(a, GGUFArray)
        full = a.read_rows()
        rows = np.array([0, 3, 17, full.shape[0] - 1]) if full.ndim == 2 else None
        if rows is None:
            continue
        np.testing.assert_array_equal(a.read_rows(rows), full[rows])
        cols = np.array([1, 5, 33, 40, EMBD - 1])
        np.testing.assert_array_equal(a.read_columns(cols, chunk=7), full[:, cols])


@pytest.mark.parametrize("qtype", [Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q5_0])
def test_columns_decoded_element_by_element_equal_whole_blocks(tmp_path: Path, qtype: Q) -> None:
    """Q8_0/Q4_0/Q4_1 columns are read per element; other types decode blocks: same values."""
    path = write_gguf(tmp_path / "m.gguf", llama_tensors(), qtype)
    arrays = {a.name: a for a in gguf_arrays(open_model(path))}
    cols = np.array([0, 15, 16, 31, 32, 47, EMBD - 1])
    assert arrays["blk.0.ffn_up.weight"].storage == qtype.name
    for name in ("blk.0.ffn_up.weight", "blk.1.attn_q.weight", "token_embd.weight"):
        a = arrays[name]
        np.testing.assert_array_equal(a.read_columns(cols), a.read_rows()[:, cols])


def test_quantized_gguf_sketches_as_derived_from_its_float_original(
    tmp_path: Path, q4_file: Path
) -> None:
    base = write_safetensors(tmp_path / "base" / "model.safetensors", llama_tensors())
    other = write_safetensors(tmp_path / "other" / "model.safetensors", llama_tensors(seed=99))
    quantized, original = sketch_path(q4_file), sketch_path(base)
    assert quantized.vocab_storage == "Q8_0"
    result = compare_sketches(quantized, original)
    assert (result.verdict, result.relation, result.direction) == (
        "derived",
        "quantized",
        "a_is_child",
    )
    assert compare_sketches(quantized, sketch_path(other)).verdict == "unrelated"


def test_directory_with_one_file_and_a_card(tmp_path: Path, q4_file: Path) -> None:
    (tmp_path / "README.md").write_text("card")
    source = open_model(tmp_path)
    assert source.format == "gguf"
    assert [f.name for f in source.extra_files] == ["README.md"]


def test_directory_with_unrelated_quantizations_refused(tmp_path: Path, q4_file: Path) -> None:
    write_gguf(tmp_path / "tiny-Q8_0.gguf", llama_tensors(), Q.Q8_0)
    with pytest.raises(WeightsError, match="2 GGUF files") as info:
        open_model(tmp_path)
    assert "one .gguf file" in (info.value.hint or "")


# --- malformed headers, written by hand -------------------------------------------------------


def _text(s: bytes) -> bytes:
    return struct.pack("<Q", len(s)) + s


def _kv(key: bytes, vtype: int, payload: bytes) -> bytes:
    return _text(key) + struct.pack("<I", vtype) + payload


def _tensor(name: bytes, ne: tuple[int, ...], ggml_type: int, offset: int) -> bytes:
    dims = struct.pack(f"<I{len(ne)}Q", len(ne), *ne)
    return _text(name) + dims + struct.pack("<IQ", ggml_type, offset)


def raw_gguf(
    kvs: list[bytes] | None = None,
    tensors: list[bytes] | None = None,
    data: bytes = b"\0" * 64,
    *,
    version: int = 3,
    counts: tuple[int, int] | None = None,
    magic: bytes = b"GGUF",
) -> bytes:
    kvs = [_kv(b"general.architecture", 8, _text(b"llama"))] if kvs is None else kvs
    tensors = [_tensor(b"a", (16,), 0, 0)] if tensors is None else tensors
    n_t, n_kv = counts or (len(tensors), len(kvs))
    head = magic + struct.pack("<IQQ", version, n_t, n_kv) + b"".join(kvs) + b"".join(tensors)
    return head + b"\0" * (-len(head) % 32) + data


def test_hand_written_file_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "ok.gguf"
    path.write_bytes(raw_gguf())
    (t,) = open_model(path).tensors
    assert (t.name, t.dtype, t.shape, t.nbytes) == ("a", "F32", (16,), 64)


MALFORMED = [
    (raw_gguf(magic=b"GGUX"), HeaderMalformed, "bad magic"),
    (raw_gguf(version=1), UnsupportedFormat, "version 1"),
    (raw_gguf(version=3 << 24), UnsupportedFormat, "big-endian"),
    (raw_gguf()[:80], HeaderMalformed, "truncated file: header runs past the end"),
    (raw_gguf(data=b"\0" * 40), HeaderMalformed, "truncated file: tensor 'a'"),
    (raw_gguf(counts=(1, 1 << 40)), HeaderMalformed, "header counts absurd"),
    (raw_gguf(counts=(1 << 60, 1)), HeaderMalformed, "header counts absurd"),
    (raw_gguf(tensors=[_tensor(b"a", (16,), 0, 1 << 20)]), HeaderMalformed, "past EOF"),
    (
        raw_gguf(
            tensors=[_tensor(b"a", (16,), 0, 0), _tensor(b"b", (16,), 0, 32)], data=bytes(128)
        ),
        HeaderMalformed,
        "overlaps tensor 'a'",
    ),
    (
        raw_gguf(tensors=[_tensor(b"a", (8,), 0, 0), _tensor(b"b", (8,), 0, 0)]),
        HeaderMalformed,
        "overlaps",
    ),
    (raw_gguf(tensors=[_tensor(b"a", (16,), 0, 7)]), HeaderMalformed, "not 32-aligned"),
    (raw_gguf(tensors=[_tensor(b"a", (16,), 4, 0)]), HeaderMalformed, "unknown ggml type 4"),
    (raw_gguf(tensors=[_tensor(b"a", (16,), 99, 0)]), HeaderMalformed, "unknown ggml type"),
    (raw_gguf(tensors=[_tensor(b"a", (16,), 8, 0)]), HeaderMalformed, "whole Q8_0 blocks"),
    (
        raw_gguf(tensors=[_tensor(b"a", (1, 1, 1, 1, 16), 0, 0)]),
        HeaderMalformed,
        "n_dims 5 out of range",
    ),
    (raw_gguf(tensors=[_tensor(b"a", (), 0, 0)]), HeaderMalformed, "n_dims 0"),
    (raw_gguf(data=b"\0" * 200), HeaderMalformed, "unexplained bytes after"),
    (raw_gguf(kvs=[_kv(b"k", 9, struct.pack("<IQ", 8, 1 << 40))]), HeaderMalformed, "trunc"),
    (raw_gguf(kvs=[_kv(b"k", 9, struct.pack("<IQ", 9, 1))]), HeaderMalformed, "array of"),
    (raw_gguf(kvs=[_kv(b"k", 13, b"\0" * 8)]), HeaderMalformed, "unknown value type 13"),
    (
        raw_gguf(kvs=[_kv(b"k", 4, b"\0" * 4), _kv(b"k", 4, b"\0" * 4)]),
        HeaderMalformed,
        "duplicate key 'k'",
    ),
    (
        raw_gguf(kvs=[_kv(b"general.alignment", 4, struct.pack("<I", 48))]),
        HeaderMalformed,
        "not a power of two",
    ),
    (
        raw_gguf(kvs=[_kv(b"general.name", 8, _text(b"\xff\xfe"))]),
        HeaderMalformed,
        "is not UTF-8",
    ),
    (raw_gguf(kvs=[_kv(b"\xff", 4, b"\0" * 4)]), HeaderMalformed, "not UTF-8"),
]


@pytest.mark.parametrize(("content", "error", "fault"), MALFORMED, ids=[c[2] for c in MALFORMED])
def test_malformed_files_refused(
    tmp_path: Path, content: bytes, error: type[Exception], fault: str
) -> None:
    path = tmp_path / "bad.gguf"
    path.write_bytes(content)
    with pytest.raises(error, match=fault) as info:
        open_model(path)
    assert str(info.value).startswith("bad.gguf: ")
    assert "\n" not in str(info.value)
    assert getattr(info.value, "hint", None)


def test_cut_real_file_is_truncated(tmp_path: Path, q4_file: Path) -> None:
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(q4_file.read_bytes()[: q4_file.stat().st_size // 2])
    with pytest.raises(HeaderMalformed, match="cut.gguf: truncated file"):
        fingerprint_path(cut)


def test_header_cap(q4_file: Path) -> None:
    with pytest.raises(HeaderMalformed, match="exceeds the cap of 100 bytes"):
        open_model(q4_file, max_header_bytes=100)


def test_stored_metadata_is_capped(tmp_path: Path) -> None:
    from registry.weights.gguf_reader import MAX_CONFIG_KEYS

    kvs = [
        _kv(b"general.architecture", 8, _text(b"llama")),
        _kv(b"general.name", 8, _text(b"n" * 600)),  # longer than a stored string may be
        *(_kv(b"llama.key%d" % i, 4, struct.pack("<I", i)) for i in range(300)),
    ]
    path = tmp_path / "many.gguf"
    path.write_bytes(raw_gguf(kvs=kvs))
    config = open_model(path).config or {}
    assert config["general.architecture"] == "llama"
    assert "general.name" not in config
    kept = [k for k in config if k.startswith("llama.")]
    assert kept == [f"llama.key{i}" for i in range(MAX_CONFIG_KEYS)]
