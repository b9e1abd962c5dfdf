"""What a model on disk is made of, and which reader understands it.

:func:`open_model` refuses pickles, detects the format and hands the path to a
:class:`WeightReader`, which lists the weight files and every tensor's byte range in them.
"""

from __future__ import annotations

import json
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from registry.errors import PickleRefused, UnsupportedFormat, WeightsError, WeightsNotFound

DEFAULT_MAX_HEADER_BYTES = 100 * 1024 * 1024

# The small files a release is made of besides its weights; fingerprinted when present.
RELEASE_FILES = (
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "README.md",
)

PICKLE_SUFFIXES = frozenset({".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt"})
PICKLE_HINT = (
    "convert it to safetensors in a trusted sandbox: "
    "sd = torch.load(path, weights_only=True); safetensors.torch.save_file(sd, "
    "'model.safetensors') (or use the Hub's https://huggingface.co/spaces/safetensors/convert)"
)


@dataclass(frozen=True)
class WeightFile:
    """One file holding tensors: ``path`` on disk, ``name`` relative to the model root."""

    path: Path
    name: str
    size: int
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TensorInfo:
    """One tensor: its bytes are ``[start, end)`` of weight file ``file`` (a relative name)."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    file: str
    start: int
    end: int

    @property
    def nbytes(self) -> int:
        return self.end - self.start

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass
class ModelSource:
    """A model found on disk: weight files, their tensors and the release's other files."""

    format: str
    root: Path
    files: list[WeightFile]
    tensors: list[TensorInfo]
    extra_files: list[WeightFile] = field(default_factory=list)
    config: dict[str, Any] | None = None
    # For a model whose files are sparse local copies of remote ones: fetches byte ranges of a
    # weight file (by its relative name) before they are read. None: every byte is on disk.
    fetch: Callable[[str, list[tuple[int, int]]], None] | None = None

    def path_of(self, tensor: TensorInfo) -> Path:
        """The file on disk that holds ``tensor``."""
        return self.root / tensor.file


class WeightReader(ABC):
    """A format's reader. Subclasses name their format, how to spot it, and how to open it."""

    format: ClassVar[str]
    suffixes: ClassVar[tuple[str, ...]]

    def claims_file(self, path: Path, head: bytes) -> bool:
        """Whether a file (first bytes ``head``) is in this format."""
        return path.suffix.lower() in self.suffixes

    def claims_directory(self, directory: Path) -> bool:
        """Whether a directory holds a model in this format."""
        return any(_is_file(p) and p.suffix.lower() in self.suffixes for p in directory.iterdir())

    @abstractmethod
    def open(self, path: Path, *, max_header_bytes: int) -> ModelSource:
        """Read ``path`` (a file or a directory this reader claimed) without loading tensors."""


def _readers() -> tuple[WeightReader, ...]:
    # Imported here to keep reader.py free of format modules; GGUF and ONNX join this tuple.
    from registry.weights.gguf_reader import GGUFReader
    from registry.weights.onnx_reader import OnnxReader
    from registry.weights.safetensors_reader import SafetensorsReader

    return (SafetensorsReader(), GGUFReader(), OnnxReader())


def supported_formats() -> list[str]:
    """Names of the formats :func:`open_model` reads."""
    return [r.format for r in _readers()]


def open_model(path: Path, *, max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES) -> ModelSource:
    """The model at ``path`` (a weight file or a directory), with its files and tensors listed.

    Raises :class:`WeightsNotFound` (missing path, no weights), :class:`PickleRefused`
    (pickle-based weights, which are never opened), :class:`UnsupportedFormat`,
    :class:`HeaderMalformed` or :class:`ShardIndexMalformed` (invalid files).
    """
    path = Path(path)
    if not path.exists():
        raise WeightsNotFound(f"{path}: no such file or directory", hint=_supported_hint())
    if path.is_dir():
        return _open_directory(path, max_header_bytes)
    if not path.is_file():
        raise WeightsNotFound(f"{path}: not a regular file", hint=_supported_hint())
    head = _read_head(path)
    if path.suffix.lower() in PICKLE_SUFFIXES or _looks_pickled(path, head):
        raise PickleRefused(
            f"{path.name}: pickle-based weights are refused (loading them can run code)",
            hint=PICKLE_HINT,
        )
    for reader in _readers():
        if reader.claims_file(path, head):
            return reader.open(path, max_header_bytes=max_header_bytes)
    raise UnsupportedFormat(f"{path.name}: not a supported weights format", hint=_supported_hint())


def _open_directory(directory: Path, max_header_bytes: int) -> ModelSource:
    for reader in _readers():
        if reader.claims_directory(directory):
            return reader.open(directory, max_header_bytes=max_header_bytes)
    pickles = sorted(
        p.name for p in directory.iterdir() if _is_file(p) and p.suffix.lower() in PICKLE_SUFFIXES
    )
    if pickles:
        raise PickleRefused(
            f"{directory}: only pickle-based weights found ({', '.join(pickles[:3])}); "
            "they are refused (loading them can run code)",
            hint=PICKLE_HINT,
        )
    raise WeightsNotFound(f"{directory}: no supported weight files", hint=_supported_hint())


def _supported_hint() -> str:
    return (
        "give one .safetensors, .gguf or .onnx file, a directory of .safetensors files, or a "
        "sharded directory with model.safetensors.index.json "
        f"(supported formats: {', '.join(supported_formats())})"
    )


def _is_file(p: Path) -> bool:
    return not p.name.startswith(".") and p.is_file()


def _read_head(path: Path, n: int = 16) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(n)
    except OSError as e:
        raise WeightsNotFound(f"{path.name}: cannot read: {e.strerror}") from e


def _looks_pickled(path: Path, head: bytes) -> bool:
    """Pickle protocol 2+ opcodes, or a zip archive holding a pickle (PyTorch's format)."""
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return True
    if head.startswith(b"PK\x03\x04"):
        # Listing a zip's members reads its central directory only; nothing is unpickled.
        try:
            with zipfile.ZipFile(path) as z:
                return any(n.endswith(".pkl") for n in z.namelist())
        except (zipfile.BadZipFile, OSError):
            return False
    return False


def read_json_object(path: Path, display: str) -> dict[str, Any]:
    """``path`` parsed as a JSON object; :class:`WeightsError` naming ``display`` if it is not."""
    try:
        value = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise WeightsError(
            f"{display}: not valid JSON ({e})", hint=f"fix or remove {display}"
        ) from e
    if not isinstance(value, dict):
        raise WeightsError(f"{display}: not a JSON object", hint=f"fix or remove {display}")
    return value


def release_files(directory: Path) -> list[WeightFile]:
    """The release's small files (config, tokenizer, card) present in ``directory``."""
    out = []
    for name in RELEASE_FILES:
        p = directory / name
        if p.is_file():
            out.append(WeightFile(path=p, name=name, size=p.stat().st_size))
    return out
