"""A deterministic corpus of hostile model directories and files.

Every case writes one input under a fresh work directory: the model to register in
``<work>/model`` (a directory, or a file in it) and, for link cases, a secret file in
``<work>/outside`` that must never be read. Named cases expect one error class and a fragment of
its message; mutated cases (seeded byte and JSON-token edits of valid models) expect only a clean
outcome: a registration, or a registry error.

``corpus("ci")`` is the bounded slice the test suite runs; ``corpus("full")`` adds many more
mutations and the slow inputs at full size (what ``benchmarks.fuzz_inputs`` runs).
"""

from __future__ import annotations

import json
import os
import random
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from registry.errors import (
    ConfigMalformed,
    FileOutsideModel,
    HeaderMalformed,
    ProvregError,
    ShardIndexMalformed,
)
from registry.weights.gguf_reader import MAX_KEYS, MAX_STRINGS
from registry.weights.validation import (
    MAX_EMPTY_TENSORS,
    MAX_JSON_DEPTH,
    MAX_ONNX_INITIALIZERS,
    MAX_TENSORS,
)

X = "@@X@@"  # where a template takes its hostile JSON text
SECRET = b"root:$6$not-a-real-hash:19000:0:99999:7:::\n"


@dataclass(frozen=True)
class Case:
    """One input: ``build(work)`` writes it and returns the path to register."""

    name: str
    kind: str
    build: Callable[[Path], Path]
    error: type[ProvregError] | None = None
    fault: str | None = None


# --- valid models to start from --------------------------------------------------------------


def _tensors(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "embed.weight": rng.standard_normal((32, 8)).astype(np.float32),
        "layers.0.attn.weight": rng.standard_normal((8, 8)).astype(np.float32),
        "layers.0.norm.weight": np.ones(8, np.float32),
    }


def st_header(tensors: dict[str, np.ndarray]) -> tuple[dict[str, object], bytes]:
    """A safetensors header (as a dict) and data section for ``tensors``, in order."""
    header: dict[str, object] = {}
    data = b""
    for name, array in tensors.items():
        raw = np.ascontiguousarray(array).tobytes()
        dtype = {"float32": "F32", "float16": "F16"}[str(array.dtype)]
        header[name] = {
            "dtype": dtype,
            "shape": list(array.shape),
            "data_offsets": [len(data), len(data) + len(raw)],
        }
        data += raw
    return header, data


def st_file(path: Path, header_text: str, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = header_text.encode("utf-8", "surrogatepass")
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return path


def _st_model(directory: Path, seed: int = 0) -> Path:
    header, data = st_header(_tensors(seed))
    return st_file(directory / "model.safetensors", json.dumps(header), data)


def _config(directory: Path, text: str | None = None) -> None:
    base = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 8}
    (directory / "config.json").write_text(text or json.dumps(base))


def _sharded(directory: Path, index_text: str | None = None) -> Path:
    """Two shards and their index; ``index_text`` replaces the index (``X``: the map)."""
    tensors = _tensors()
    names = list(tensors)
    shards = {
        "model-00001-of-00002.safetensors": names[:2],
        "model-00002-of-00002.safetensors": names[2:],
    }
    weight_map = {}
    for shard, members in shards.items():
        header, data = st_header({n: tensors[n] for n in members})
        st_file(directory / shard, json.dumps(header), data)
        weight_map |= dict.fromkeys(members, shard)
    text = json.dumps({"metadata": {"total_size": 0}, "weight_map": weight_map})
    (directory / "model.safetensors.index.json").write_text(index_text or text)
    return directory


def _gguf_writer(path: Path, *, extra: Callable[[gguf.GGUFWriter], None] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(path, "llama")
    w.add_name("tiny")
    w.add_context_length(64)
    w.add_embedding_length(8)
    w.add_block_count(1)
    w.add_head_count(2)
    w.add_token_list([f"t{i}" for i in range(32)])
    if extra is not None:
        extra(w)
    for name, array in _tensors().items():
        w.add_tensor(name.replace("layers.0", "blk.0"), array)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def _onnx_model(path: Path, n_initializers: int | None = None, first_name: str = "") -> Path:
    """A small ONNX model (``first_name`` renames its first initializer), or ``n_initializers``
    one-element ones."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if n_initializers is None:
        inits = [numpy_helper.from_array(a, n) for n, a in _tensors().items()]
        if first_name:
            inits[0].name = first_name
    else:
        one = np.zeros(1, np.float32)
        inits = [numpy_helper.from_array(one, f"w{i}") for i in range(n_initializers)]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y], initializer=inits
    )
    onnx.save(helper.make_model(graph), str(path))
    return path


# --- hand-written GGUF -----------------------------------------------------------------------


def _text(s: bytes) -> bytes:
    return struct.pack("<Q", len(s)) + s


def _kv(key: bytes, vtype: int, payload: bytes) -> bytes:
    return _text(key) + struct.pack("<I", vtype) + payload


def gguf_bytes(
    kvs: list[bytes] | None = None, tensor_names: list[bytes] | None = None, n_kv: int | None = None
) -> bytes:
    """A GGUF v3 file of F32 tensors of 16 elements each."""
    kvs = [_kv(b"general.architecture", 8, _text(b"llama"))] if kvs is None else kvs
    names = [b"a"] if tensor_names is None else tensor_names
    infos = b"".join(_text(n) + struct.pack("<IQIQ", 1, 16, 0, 64 * i) for i, n in enumerate(names))
    count = len(kvs) if n_kv is None else n_kv
    head = b"GGUF" + struct.pack("<IQQ", 3, len(names), count) + b"".join(kvs) + infos
    return head + b"\0" * (-len(head) % 32) + b"\0" * (64 * len(names))


def _write(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


# --- named hostile cases ---------------------------------------------------------------------


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def _hostile_values(full: bool) -> list[tuple[str, str, str]]:
    """(label, JSON text, message fragment) of values no stored JSON may hold."""
    depths = [MAX_JSON_DEPTH + 1, 900, 1_000, 100_000] if full else [MAX_JSON_DEPTH + 1, 900, 1_000]
    out = [(f"depth-{d}", _deep(d), "levels deep, over the limit of 64") for d in depths]
    out += [
        ("surrogate", '"a\\ud800b"', "lone surrogate"),
        ("surrogate-low", '"\\udc80"', "lone surrogate"),
        ("nul", '"a\\u0000b"', "NUL"),
        ("int-5000-digits", "9" * 5000, "5000 digits"),
        ("int-21-digits", "-" + "1" * 21, "21 digits"),
        ("nan", "NaN", "NaN is not a JSON number"),
        ("infinity", "Infinity", "Infinity is not a JSON number"),
        ("minus-infinity", "-Infinity", "-Infinity is not a JSON number"),
    ]
    return out


def _config_case(text: str) -> Callable[[Path], Path]:
    def build(work: Path) -> Path:
        model = work / "model"
        _st_model(model)
        _config(model, text)
        return model

    return build


def _header_case(template: str, hostile: str) -> Callable[[Path], Path]:
    def build(work: Path) -> Path:
        header, data = st_header(_tensors())
        header["__metadata__"] = {"format": "pt"}
        text = json.dumps(header).replace(json.dumps(X), hostile)
        text = text.replace('"format": "pt"', template.replace(X, hostile))
        return st_file(work / "model" / "model.safetensors", text, data)

    return build


def _index_case(hostile: str) -> Callable[[Path], Path]:
    def build(work: Path) -> Path:
        model = work / "model"
        _sharded(model)
        index = (model / "model.safetensors.index.json").read_text()
        (model / "model.safetensors.index.json").write_text(
            index.replace('"total_size": 0', f'"total_size": {hostile}')
        )
        return model

    return build


def _named_name_case(name_json: str) -> Callable[[Path], Path]:
    """A safetensors file whose first tensor is named by ``name_json`` (a JSON string)."""

    def build(work: Path) -> Path:
        header, data = st_header(_tensors())
        text = json.dumps(header).replace('"embed.weight"', name_json, 1)
        return st_file(work / "model" / "model.safetensors", text, data)

    return build


def json_cases(full: bool) -> Iterator[Case]:
    for label, hostile, fault in _hostile_values(full):
        yield Case(
            f"config.json/{label}",
            "json",
            _config_case(f'{{"model_type": "llama", "x": {hostile}}}'),
            ConfigMalformed,
            fault,
        )
        yield Case(
            f"header/{label}",
            "json",
            _header_case(f'"format": {X}', hostile),
            HeaderMalformed,
            fault,
        )
        yield Case(f"index/{label}", "json", _index_case(hostile), ShardIndexMalformed, fault)
    for label, key, fault in [
        ("surrogate", '"\\ud83d"', "lone surrogate"),
        ("nul", '"w\\u0000"', "NUL"),
        ("513-chars", json.dumps("w" * 513), "513 characters long, over the limit of 512"),
        ("100k-chars", json.dumps("w" * 100_000), "over the limit of 512"),
    ]:
        yield Case(f"tensor-name/{label}", "names", _named_name_case(key), HeaderMalformed, fault)
        yield Case(
            f"config-key/{label}" if "chars" not in label else f"config-arch/{label}",
            "names",
            _config_case(
                f'{{"model_type": "llama", {key}: 1}}'
                if "chars" not in label
                else f'{{"architectures": [{key}]}}'
            ),
            ConfigMalformed,
            fault if "chars" not in label else "architecture name",
        )
    yield Case(
        "config.json/over-4MiB",
        "json",
        _config_case('{"a": "' + "x" * (4 * 1024 * 1024) + '"}'),
        ConfigMalformed,
        "over the limit of 4,194,304",
    )
    for label, onnx_name, fault in [
        ("nul", "w\x00", "NUL"),
        ("600-chars", "w" * 600, "over the limit of 512"),
    ]:
        yield Case(
            f"onnx/initializer-name-{label}",
            "names",
            lambda w, n=onnx_name: _onnx_model(w / "model" / "model.onnx", first_name=n),
            HeaderMalformed,
            fault,
        )
    yield Case(
        "gguf/tensor-name-nul",
        "names",
        lambda w: _write(w / "model" / "m.gguf", gguf_bytes(tensor_names=[b"a\0"])),
        HeaderMalformed,
        "NUL",
    )
    yield Case(
        "gguf/tensor-name-600",
        "names",
        lambda w: _write(w / "model" / "m.gguf", gguf_bytes(tensor_names=[b"a" * 600])),
        HeaderMalformed,
        "over the limit of 512",
    )
    yield Case(
        "gguf/arch-key-nul",
        "names",
        lambda w: _write(
            w / "model" / "m.gguf",
            gguf_bytes(
                [
                    _kv(b"general.architecture", 8, _text(b"llama")),
                    _kv(b"llama.x\0", 4, b"\0" * 4),
                ]
            ),
        ),
        HeaderMalformed,
        "NUL",
    )
    yield Case(
        "gguf/name-nul",
        "names",
        lambda w: _write(
            w / "model" / "m.gguf",
            gguf_bytes(
                [
                    _kv(b"general.architecture", 8, _text(b"llama")),
                    _kv(b"general.name", 8, _text(b"tiny\0")),
                ]
            ),
        ),
        HeaderMalformed,
        "NUL",
    )


# --- links out of the directory --------------------------------------------------------------


def _secret(work: Path) -> Path:
    return _write(work / "outside" / "shadow", SECRET)


def _link_case(member: str) -> Callable[[Path], Path]:
    """A valid safetensors model whose ``member`` is a link out of the directory."""

    def build(work: Path) -> Path:
        model = work / "model"
        secret = _secret(work)
        if member.startswith("model"):  # a weight file linking to weights elsewhere
            target = _st_model(work / "outside" / "weights")
            if "-of-" in member:
                _sharded(model)
            else:
                model.mkdir(parents=True)
            (model / member).unlink(missing_ok=True)
            os.symlink(target, model / member)
        else:
            _st_model(model)
            if member == "sub":
                os.symlink(work / "outside", model / "sub")
            elif member == "loop":
                os.symlink("README.md", model / "README.md")
            else:
                os.symlink(secret, model / member)
        return model

    return build


def _sub_shard(work: Path) -> Path:
    """An index naming ``sub/x.safetensors`` where ``sub`` links out of the directory."""
    model = work / "model"
    _secret(work)
    _st_model(work / "outside" / "weights")
    _sharded(model)
    os.symlink(work / "outside" / "weights", model / "sub")
    index = json.loads((model / "model.safetensors.index.json").read_text())
    index["weight_map"] = {
        "embed.weight": "sub/model.safetensors",
        "layers.0.attn.weight": "sub/model.safetensors",
        "layers.0.norm.weight": "sub/model.safetensors",
    }
    for p in model.glob("model-*.safetensors"):
        p.unlink()
    (model / "model.safetensors.index.json").write_text(json.dumps(index))
    return model


def _gguf_link(work: Path) -> Path:
    model = work / "model"
    model.mkdir(parents=True)
    os.symlink(_gguf_writer(work / "outside" / "m.gguf"), model / "model.gguf")
    return model


def _hf_cache(work: Path) -> Path:
    """A Hugging Face cache snapshot: every file a link into the repo's ``blobs/``."""
    repo = work / "model" / "models--acme--tiny"
    blob = _st_model(repo / "blobs" / "tmp")
    blob = blob.rename(repo / "blobs" / "0123abcd")
    snapshot = repo / "snapshots" / "f00d"
    snapshot.mkdir(parents=True)
    os.symlink("../../blobs/0123abcd", snapshot / "model.safetensors")
    return snapshot


def _inside_link(work: Path) -> Path:
    """A link that stays inside the directory is followed."""
    model = work / "model"
    _st_model(model)
    _write(model / "docs" / "card.md", b"# tiny\n")
    os.symlink("docs/card.md", model / "README.md")
    return model


def _not_a_cache(work: Path) -> Path:
    """``snapshots/<x>`` outside a ``models--org--name`` folder: its ``../../blobs`` is outside."""
    snapshot = work / "model" / "snapshots" / "x"
    _st_model(snapshot)
    _write(work / "model" / "blobs" / "secret", SECRET)
    os.symlink("../../blobs/secret", snapshot / "README.md")
    return snapshot


def link_cases() -> Iterator[Case]:
    fault = "outside the model directory"
    for member in ("README.md", "config.json", "tokenizer.json", "model.safetensors", "sub"):
        yield Case(f"link/{member}", "links", _link_case(member), FileOutsideModel, fault)
    yield Case(
        "link/unlisted-shard-outside",
        "links",
        _link_case("model-00002-of-00002.safetensors"),
        FileOutsideModel,
        fault,
    )
    yield Case("link/loop", "links", _link_case("loop"), FileOutsideModel, "cannot resolve")
    yield Case("link/shard-in-linked-dir", "links", _sub_shard, FileOutsideModel, fault)
    yield Case("link/gguf", "links", _gguf_link, FileOutsideModel, fault)
    yield Case("link/hf-cache-snapshot", "links", _hf_cache)
    yield Case("link/snapshots-not-a-cache", "links", _not_a_cache, FileOutsideModel, fault)
    yield Case("link/inside", "links", _inside_link)


# --- silent partial reads --------------------------------------------------------------------


def _gguf_no_tensors(work: Path) -> Path:
    path = _gguf_writer(work / "model" / "m.gguf")
    raw = bytearray(path.read_bytes())
    raw[8:16] = struct.pack("<Q", 0)  # the tensor count
    path.write_bytes(bytes(raw))
    return path


def _unlisted_shard(work: Path) -> Path:
    model = _sharded(work / "model")
    index = json.loads((model / "model.safetensors.index.json").read_text())
    index["weight_map"] = {
        k: v for k, v in index["weight_map"].items() if v.startswith("model-00001")
    }
    (model / "model.safetensors.index.json").write_text(json.dumps(index))
    return model


def partial_cases() -> Iterator[Case]:
    yield Case(
        "partial/gguf-tensor-count-0",
        "partial",
        _gguf_no_tensors,
        HeaderMalformed,
        "unexplained bytes after a header that lists no tensors",
    )
    yield Case(
        "partial/unlisted-shard",
        "partial",
        _unlisted_shard,
        ShardIndexMalformed,
        "shard 'model-00002-of-00002.safetensors' is in the directory but not in the index",
    )


# --- slow inputs -----------------------------------------------------------------------------


def _zero_size(n: int) -> Callable[[Path], Path]:
    def build(work: Path) -> Path:
        header = {f"t{i}": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]} for i in range(n)}
        return st_file(work / "model" / "model.safetensors", json.dumps(header), b"")

    return build


def _many_tensors(n: int) -> Callable[[Path], Path]:
    def build(work: Path) -> Path:
        header = {
            f"t{i}": {"dtype": "F32", "shape": [1], "data_offsets": [4 * i, 4 * i + 4]}
            for i in range(n)
        }
        return st_file(work / "model" / "model.safetensors", json.dumps(header), bytes(4 * n))

    return build


def _gguf_strings(n: int) -> Callable[[Path], Path]:
    def build(work: Path) -> Path:
        array = struct.pack("<IQ", 8, n) + (struct.pack("<Q", 1) + b"a") * n
        kvs = [_kv(b"general.architecture", 8, _text(b"llama")), _kv(b"tokens", 9, array)]
        return _write(work / "model" / "m.gguf", gguf_bytes(kvs))

    return build


def _gguf_keys(n: int) -> Callable[[Path], Path]:
    def build(work: Path) -> Path:
        kvs = [_kv(b"general.architecture", 8, _text(b"llama"))]
        kvs += [_kv(b"llama.k%d" % i, 4, b"\0" * 4) for i in range(n)]
        return _write(work / "model" / "m.gguf", gguf_bytes(kvs))

    return build


def _onnx_initializers(n: int) -> Callable[[Path], Path]:
    return lambda work: _onnx_model(work / "model" / "model.onnx", n)


def slow_cases(full: bool) -> Iterator[Case]:
    """Inputs just over each limit (``ci``), or at the sizes that used to take minutes."""
    empty = 200_000 if full else MAX_EMPTY_TENSORS + 1
    strings = 4_000_000 if full else MAX_STRINGS + 1
    keys = 300_000 if full else MAX_KEYS + 1
    inits = 100_000 if full else MAX_ONNX_INITIALIZERS + 1
    table: list[tuple[str, Callable[[Path], Path], str]] = [
        (
            f"{empty}-zero-size-tensors",
            _zero_size(empty),
            "over the limit of 1" + (",024" if empty <= MAX_TENSORS else "31,072"),
        ),
        (f"{MAX_TENSORS + 1}-tensors", _many_tensors(MAX_TENSORS + 1), "over the limit of 131,072"),
        (f"gguf-{strings}-strings", _gguf_strings(strings), "over the limit of 2,097,152 strings"),
        (f"gguf-{keys}-keys", _gguf_keys(keys), "metadata keys, over the limit of 4,096"),
        (f"onnx-{inits}-initializers", _onnx_initializers(inits), "over the limit of 65,536"),
    ]
    for label, build, fault in table:
        yield Case(f"slow/{label}", "slow", build, HeaderMalformed, fault)


# --- seeded mutations of valid models --------------------------------------------------------

_JSON_EDITS = [
    '"\\ud800"',
    '"\\u0000"',
    "NaN",
    "1" + "0" * 30,
    _deep(2_000),
    '{"a": {"a": [[[]]]}}',
    "-1",
    '""',
    "null",
    "[1, 2]",
    "1e999",
]


def _mutate_bytes(rng: random.Random, raw: bytes, header_end: int) -> bytes:
    buf = bytearray(raw)
    op = rng.randrange(4)
    if op == 0:  # flip bytes in the header
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(min(len(buf), header_end))
            buf[i] = rng.randrange(256)
        return bytes(buf)
    if op == 1:  # truncate
        return bytes(buf[: rng.randrange(len(buf))])
    if op == 2:  # insert bytes
        i = rng.randrange(len(buf))
        return bytes(
            buf[:i] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 9))) + buf[i:]
        )
    i = rng.randrange(8)  # patch a length or count field near the start
    buf[i : i + 8] = struct.pack("<Q", rng.choice([0, 1, 2**31, 2**63, len(raw) * 2]))
    return bytes(buf)


def _mutate_json(rng: random.Random, text: str) -> str:
    """Replace one JSON value (a number, string, array or object) by a hostile one."""
    spots = [i for i, c in enumerate(text) if c in '"[{0123456789' and text[i - 1] in ":[, "]
    if not spots:
        return text
    i = rng.choice(spots)
    try:
        _, end = json.JSONDecoder().raw_decode(text, i)
    except ValueError:
        return text
    return text[:i] + rng.choice(_JSON_EDITS) + text[end:]


def _mutant(seed: int) -> Case:
    rng = random.Random(seed)
    target = rng.choice(["safetensors", "config", "index", "shard", "gguf", "onnx"])

    def build(work: Path) -> Path:
        model = work / "model"
        r = random.Random(seed)
        r.random()
        if target in ("safetensors", "config"):
            path = _st_model(model)
            _config(model)
            if target == "config":
                cfg = model / "config.json"
                cfg.write_text(_mutate_json(r, cfg.read_text()))
                return model
            raw = path.read_bytes()
            (n,) = struct.unpack("<Q", raw[:8])
            if r.random() < 0.5:
                text = _mutate_json(r, raw[8 : 8 + n].decode())
                return st_file(path, text, raw[8 + n :]).parent
            path.write_bytes(_mutate_bytes(r, raw, 8 + n))
            return model
        if target in ("index", "shard"):
            _sharded(model)
            if target == "index":
                p = model / "model.safetensors.index.json"
                p.write_text(_mutate_json(r, p.read_text()))
            else:
                p = model / "model-00001-of-00002.safetensors"
                raw = p.read_bytes()
                p.write_bytes(_mutate_bytes(r, raw, 8 + struct.unpack("<Q", raw[:8])[0]))
            return model
        if target == "gguf":
            path = _gguf_writer(model / "m.gguf")
            raw = path.read_bytes()
            path.write_bytes(_mutate_bytes(r, raw, len(raw) - 384))
            return path
        path = _onnx_model(model / "model.onnx")
        raw = path.read_bytes()
        path.write_bytes(_mutate_bytes(r, raw, len(raw)))
        return path

    return Case(f"mutant/{target}/{seed}", "mutation", build)


def valid_cases() -> Iterator[Case]:
    def st(work: Path) -> Path:
        model = work / "model"
        _st_model(model)
        _config(model)
        return model

    def nan_weights(work: Path) -> Path:
        """Weights holding NaN: exact digests are recorded, no sketch is made of them."""
        tensors = _tensors()
        tensors["embed.weight"][3, :4] = np.nan
        tensors["layers.0.attn.weight"][0, 0] = np.inf
        header, data = st_header(tensors)
        return st_file(work / "model" / "model.safetensors", json.dumps(header), data).parent

    yield Case("valid/safetensors", "valid", st)
    yield Case("valid/nan-weights", "valid", nan_weights)
    yield Case("valid/sharded", "valid", lambda w: _sharded(w / "model"))

    def beside_consolidated(work: Path) -> Path:
        """Mistral's layout: consolidated.safetensors beside the shards is not one of them."""
        model = _sharded(work / "model")
        _st_model(work / "copy").rename(model / "consolidated.safetensors")
        return model

    yield Case("valid/sharded-beside-consolidated", "valid", beside_consolidated)
    yield Case("valid/gguf", "valid", lambda w: _gguf_writer(w / "model" / "m.gguf"))
    yield Case("valid/onnx", "valid", lambda w: _onnx_model(w / "model" / "model.onnx"))


def corpus(scale: str = "ci") -> list[Case]:
    """Every case of the corpus: ``"ci"`` (about 350 inputs) or ``"full"`` (about 2,100)."""
    full = scale == "full"
    cases = [
        *valid_cases(),
        *json_cases(full),
        *link_cases(),
        *partial_cases(),
        *slow_cases(full),
    ]
    cases += [_mutant(seed) for seed in range(2_000 if full else 280)]
    return cases
