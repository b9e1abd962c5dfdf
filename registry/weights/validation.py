"""Limits on what a model's files may hold, and the checks that keep hostile values out.

The readers and the registration service apply the same rules, so whatever passes can be stored
and rendered alike on SQLite and PostgreSQL, and whatever fails is one error naming the file (or
the fingerprint's field) and the fault:

* JSON (safetensors headers, shard indexes, ``config.json``) is parsed strictly: nesting deeper
  than :data:`MAX_JSON_DEPTH`, integers of more than :data:`MAX_INT_DIGITS` digits and
  ``NaN``/``Infinity`` are refused.
* Text that is stored (tensor names, file paths, config keys and strings) must be valid Unicode
  without NUL. Lone surrogates and U+0000 are refused, never replaced: the registry records what
  the files say, or nothing.
* Names, sizes and counts are capped by the constants below; every error says the limit.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Callable
from itertools import accumulate
from typing import TYPE_CHECKING, Any, NoReturn

from registry.errors import FingerprintInvalid

if TYPE_CHECKING:
    from schemas.variants import WeightsFingerprint

#: deepest nesting of arrays and objects in any JSON we read or store (real configs use < 8)
MAX_JSON_DEPTH = 64
#: longest integer literal in JSON, in digits (2**64 has 20); longer ones are refused unparsed
MAX_INT_DIGITS = 20
#: longest tensor name (characters)
MAX_NAME_CHARS = 512
#: longest file path relative to the model directory (characters)
MAX_PATH_CHARS = 1024
#: longest architecture name (``architectures[0]``, ``model_type``, ``general.architecture``)
MAX_ARCHITECTURE_CHARS = 200
#: longest dtype and format names
MAX_DTYPE_CHARS, MAX_FORMAT_CHARS = 16, 32
#: largest ``config.json`` read (bytes); real ones are kilobytes, ImageNet-21k labels ~1 MiB
MAX_CONFIG_BYTES = 4 * 1024 * 1024
#: most values (objects, arrays, strings, numbers) in a stored config
MAX_CONFIG_VALUES = 100_000
#: largest sharded index read (bytes)
MAX_INDEX_BYTES = 64 * 1024 * 1024
#: most tensors in one model (DeepSeek-V3, among the largest public checkpoints, has ~92,000)
MAX_TENSORS = 131_072
#: most initializers in one ONNX model: they are decoded from one protobuf, one by one, and
#: real exports hold at most a few thousand
MAX_ONNX_INITIALIZERS = 65_536
#: most tensors holding no data (zero elements) in one model; real models have a handful
MAX_EMPTY_TENSORS = 1_024

_UNSAFE_CHAR = re.compile("[\x00\ud800-\udfff]")
_INT_LIMIT = 10**MAX_INT_DIGITS
# In JSON text, a stored string can hold NUL or a lone surrogate only through an escape.
_RISKY_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
_CHUNK = 1 << 20


class JsonFault(ValueError):
    """What is wrong with a JSON text or value, in words (no file name)."""


def shown(text: str | bytes, limit: int = 60) -> str:
    """``text`` as a short, printable, one-line quotation for an error message."""
    if len(text) > limit:
        return repr(text[:limit]) + "…"
    return repr(text)


def text_fault(text: str) -> str | None:
    """Why ``text`` cannot be stored as is (NUL, lone surrogate), or None."""
    found = _UNSAFE_CHAR.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "holds a NUL character (U+0000)"
    return f"holds a lone surrogate (U+{ord(found.group()):04X}), which is not valid Unicode"


def name_fault(text: str | bytes, limit: int = MAX_NAME_CHARS) -> str | None:
    """Why ``text`` is not an acceptable tensor name or file path, or None."""
    if not isinstance(text, str):  # protobuf hands over invalid UTF-8 as bytes
        return "is not valid UTF-8"
    if len(text) > limit:
        return f"is {len(text)} characters long, over the limit of {limit}"
    return text_fault(text)


def _parse_int(token: str) -> int:
    digits = len(token.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise JsonFault(f"an integer of {digits} digits, over the limit of {MAX_INT_DIGITS}")
    return int(token)


def _parse_float(token: str) -> float:
    value = float(token)
    if not math.isfinite(value):
        raise JsonFault(f"{token} is out of range for a JSON number")
    return value


def _parse_constant(token: str) -> NoReturn:
    raise JsonFault(f"{token} is not a JSON number")


def _nesting(text: str) -> int:
    """How deep arrays and objects nest in JSON ``text`` (brackets inside strings ignored)."""
    skeleton = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    if len(skeleton) < _CHUNK:
        return max(accumulate(_STEP[c] for c in skeleton), default=0)
    import numpy as np  # megabytes of brackets: a running sum per chunk, not a Python loop

    raw = np.frombuffer(skeleton.encode("ascii"), np.uint8)
    deepest = level = 0
    for lo in range(0, len(raw), _CHUNK):
        part = raw[lo : lo + _CHUNK]
        running = np.cumsum(np.where((part == ord("[")) | (part == ord("{")), 1, -1)) + level
        deepest, level = max(deepest, int(running.max())), int(running[-1])
    return deepest


class DuplicateKey(JsonFault):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise DuplicateKey(f"duplicate key {shown(k)}")
        out[k] = v
    return out


def loads(raw: bytes | str, *, duplicates: bool = True) -> Any:
    """``raw`` parsed as strict JSON; raises :class:`JsonFault` saying what is wrong.

    Refuses what :func:`json_fault` refuses; ``duplicates=False`` also refuses repeated keys.
    Depth is measured on the text before parsing, and strings are walked only when the text
    holds an escape that could make them unstorable, so large headers parse at full speed.
    """
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as e:
        raise JsonFault(f"not valid UTF-8 ({e.reason} at byte {e.start})") from None
    if (depth := _nesting(text)) > MAX_JSON_DEPTH:
        raise JsonFault(f"nested {depth:,} levels deep, over the limit of {MAX_JSON_DEPTH}")
    hook: Callable[[list[tuple[str, Any]]], dict[str, Any]] | None = (
        None if duplicates else _no_duplicates
    )
    try:
        value = json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
            object_pairs_hook=hook,
        )
    except RecursionError:  # unbalanced brackets can fool the depth count; not the parser
        raise JsonFault(f"nested more than {MAX_JSON_DEPTH} levels deep (the limit)") from None
    except json.JSONDecodeError as e:
        raise JsonFault(f"not valid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    if _RISKY_ESCAPE.search(text) and (fault := json_fault(value)) is not None:
        raise JsonFault(fault)
    return value


def json_fault(value: Any, *, max_values: int | None = None) -> str | None:
    """The first reason ``value`` (parsed JSON) cannot be stored, or None.

    Walks without recursion: depth up to :data:`MAX_JSON_DEPTH`, strings and keys by
    :func:`text_fault`, finite floats, integers of at most :data:`MAX_INT_DIGITS` digits, and at
    most ``max_values`` values in all.
    """
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    count = 0
    while stack:
        item, where, depth = stack.pop()
        count += 1
        if max_values is not None and count > max_values:
            return f"holds more than {max_values:,} values, the limit"
        at = f" at {where}" if where else ""
        if isinstance(item, str):
            if (fault := text_fault(item)) is not None:
                return f"a string{at} {fault}"
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not -_INT_LIMIT < item < _INT_LIMIT:
                return f"an integer{at} has more than {MAX_INT_DIGITS} digits, the limit"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return f"{item}{at} is not a JSON number"
        elif isinstance(item, dict | list):
            if depth >= MAX_JSON_DEPTH:
                return f"nested more than {MAX_JSON_DEPTH} levels deep (the limit){at}"
            if isinstance(item, dict):
                for k, v in item.items():
                    if not isinstance(k, str):
                        return f"a key{at} is not a string"
                    if (fault := text_fault(k)) is not None:
                        return f"the key {shown(k)}{at} {fault}"
                    stack.append((v, _join(where, k), depth + 1))
            else:
                stack.extend((v, f"{where}[{i}]", depth + 1) for i, v in enumerate(item))
        else:
            return f"a value{at} of type {type(item).__name__} is not JSON"
    return None


def _join(where: str, key: str) -> str:
    path = f"{where}.{key}" if where else key
    return path if len(path) <= 80 else "…" + path[-79:]


def architecture_of(config: dict[str, Any] | None) -> str | None:
    """The architecture a config names: GGUF's ``general.architecture``, else
    ``architectures[0]``, else ``model_type``; None when it names none."""
    if not config:
        return None
    gguf_arch = config.get("general.architecture")  # GGUF metadata (see gguf_reader)
    if isinstance(gguf_arch, str):
        return gguf_arch
    archs = config.get("architectures")
    if isinstance(archs, list) and archs and isinstance(archs[0], str):
        return archs[0]
    model_type = config.get("model_type")
    return model_type if isinstance(model_type, str) else None


def config_fault(config: dict[str, Any]) -> str | None:
    """Why a model's config cannot be stored (see :func:`json_fault`), or None."""
    if (fault := json_fault(config, max_values=MAX_CONFIG_VALUES)) is not None:
        return fault
    arch = architecture_of(config)
    if arch is not None and len(arch) > MAX_ARCHITECTURE_CHARS:
        return (
            f"the architecture name is {len(arch)} characters long, "
            f"over the limit of {MAX_ARCHITECTURE_CHARS}"
        )
    return None


def tensor_count_fault(count: int, empty: int) -> str | None:
    """Why a model of ``count`` tensors (``empty`` of them without data) is refused, or None."""
    if count > MAX_TENSORS:
        return f"{count:,} tensors, over the limit of {MAX_TENSORS:,}"
    if empty > MAX_EMPTY_TENSORS:
        return f"{empty:,} tensors hold no data, over the limit of {MAX_EMPTY_TENSORS:,}"
    return None


def check_fingerprint(fp: WeightsFingerprint) -> None:
    """Refuse a fingerprint holding anything the registry cannot store faithfully.

    The registration service calls this before it writes anything, so a fingerprint computed
    elsewhere (over HTTP, from the Hub) meets the rules the readers apply to files. Raises
    :class:`FingerprintInvalid` naming the field and the limit.
    """

    def bad(fault: str) -> NoReturn:
        raise FingerprintInvalid(
            f"fingerprint: {fault}",
            hint="recompute the fingerprint with `provreg register` from the model's files",
        )

    for field, value, limit in (
        ("format", fp.format, MAX_FORMAT_CHARS),
        ("architecture", fp.architecture or "", MAX_ARCHITECTURE_CHARS),
        *(("dtype", d, MAX_DTYPE_CHARS) for d in fp.dtypes),
    ):
        if (fault := name_fault(value, limit)) is not None:
            bad(f"{field} {shown(value)} {fault}")
    for f in fp.files:
        if (fault := name_fault(f.path, MAX_PATH_CHARS)) is not None:
            bad(f"file path {shown(f.path)} {fault}")
    empty = 0
    for t in fp.tensors:
        if (fault := name_fault(t.name) or name_fault(t.dtype, MAX_DTYPE_CHARS)) is not None:
            bad(f"tensor {shown(t.name)} {fault}")
        if any(not 0 <= d < 2**63 for d in t.shape):
            bad(f"tensor {shown(t.name)} has a dimension outside 0 .. 2**63-1")
        empty += 0 in t.shape
    if (fault := tensor_count_fault(len(fp.tensors), empty)) is not None:
        bad(fault)
    if fp.config is not None and (fault := config_fault(fp.config)) is not None:
        bad(f"config: {fault}")


def nonfinite_part(value: Any, where: str = "sketch") -> str | None:
    """The first part of ``value`` (a sketch: dataclasses of arrays, lists and numbers) holding
    NaN or an infinity, or None. Weights holding them make sketches that no comparison can use.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            if (found := nonfinite_part(getattr(value, f.name), f"{where}.{f.name}")) is not None:
                return found
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            if (found := nonfinite_part(item, f"{where}[{i}]")) is not None:
                return found
    elif isinstance(value, float):
        return None if math.isfinite(value) else where
    elif getattr(value, "dtype", None) is not None and value.dtype.kind in "fc":
        import numpy as np  # a sketch's arrays; numpy is loaded already when one exists

        return None if bool(np.isfinite(value).all()) else where
    return None
