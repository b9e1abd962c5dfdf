"""What a model on disk is made of, and which reader understands it.

:func:`open_model` refuses pickles, detects the format and hands the path to a
:class:`WeightReader`, which lists the weight files and every tensor's byte range in them.

A model directory is read only inside itself: a file that resolves (through a symbolic link)
outside it is refused before anything is read, as ONNX external data outside it is. Linking
into a Hugging Face cache's ``blobs/`` from its ``snapshots/<revision>/`` is how that cache is
laid out, so those links are followed. Refused rather than skipped: a registration must not
quietly describe fewer files than the directory holds.
"""

from __future__ import annotations

import zipfile
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NoReturn

from registry.errors import (
    ConfigMalformed,
    FileOutsideModel,
    HeaderMalformed,
    PickleRefused,
    UnsupportedFormat,
    WeightsNotFound,
)
from registry.weights.validation import (
    MAX_CONFIG_BYTES,
    MAX_PATH_CHARS,
    JsonFault,
    config_fault,
    loads,
    name_fault,
    shown,
    tensor_count_fault,
)

DEFAULT_MAX_HEADER_BYTES = 100 * 1024 * 1024

# The small files a release is made of besides its weights; fingerprinted when present.
RELEASE_FILES = (
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "README.md",
)

# How huggingface_hub names a repo's folder in its cache: models--org--name, and so on.
_HF_CACHE_REPOS = ("models--", "datasets--", "spaces--")

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


class _OnnxOnDemand(WeightReader):
    """ONNX's reader, imported only to open an ONNX model: the onnx package takes seconds to
    import, and spotting a ``.onnx`` file needs only its suffix."""

    format = "onnx"
    suffixes = (".onnx",)

    def open(self, path: Path, *, max_header_bytes: int) -> ModelSource:
        from registry.weights.onnx_reader import OnnxReader

        return OnnxReader().open(path, max_header_bytes=max_header_bytes)


def _readers() -> tuple[WeightReader, ...]:
    # Imported here to keep reader.py free of format modules.
    from registry.weights.gguf_reader import GGUFReader
    from registry.weights.safetensors_reader import SafetensorsReader

    return (SafetensorsReader(), GGUFReader(), _OnnxOnDemand())


def supported_formats() -> list[str]:
    """Names of the formats :func:`open_model` reads."""
    return [r.format for r in _readers()]


def open_model(path: Path, *, max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES) -> ModelSource:
    """The model at ``path`` (a weight file or a directory), with its files and tensors listed.

    Raises :class:`WeightsNotFound` (missing path, no weights), :class:`PickleRefused`
    (pickle-based weights, which are never opened), :class:`UnsupportedFormat`,
    :class:`HeaderMalformed`, :class:`ShardIndexMalformed` or :class:`ConfigMalformed`
    (invalid files, or names and counts over the limits of :mod:`registry.weights.validation`)
    and :class:`FileOutsideModel` (a link out of the directory).
    """
    path = Path(path)
    if not path.exists():
        raise WeightsNotFound(f"{path}: no such file or directory", hint=_supported_hint())
    if path.is_dir():
        _refuse_links_out(path)
        source = _open_directory(path, max_header_bytes)
        check_source(source, path)
        return source
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
            source = reader.open(path, max_header_bytes=max_header_bytes)
            check_source(source, None)
            return source
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
    """``path`` (a model's config) parsed as a JSON object that can be stored as is.

    Raises :class:`ConfigMalformed` naming ``display`` and the fault: not a strict JSON object,
    or over a limit of :mod:`registry.weights.validation`.
    """

    def bad(fault: str) -> NoReturn:
        raise ConfigMalformed(
            f"{display}: {fault}", hint=f"fix or remove {display}", detail={"file": display}
        )

    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            bad(f"{size:,} bytes, over the limit of {MAX_CONFIG_BYTES:,}")
        value = loads(path.read_bytes())
    except OSError as e:
        bad(f"cannot read: {e.strerror}")
    except JsonFault as e:
        bad(str(e))
    if not isinstance(value, dict):
        bad("not a JSON object")
    if (fault := config_fault(value)) is not None:
        bad(fault)
    return value


def confinement_roots(directory: Path) -> tuple[Path, ...]:
    """Where the files of ``directory`` may resolve to: itself, and for a Hugging Face cache
    snapshot (``models--org--name/snapshots/<revision>``) its repo's ``blobs/``."""
    real = directory.resolve()
    repo = real.parent.parent
    if real.parent.name == "snapshots" and repo.name.startswith(_HF_CACHE_REPOS):
        return real, repo / "blobs"
    return (real,)


def confine(directory: Path, path: Path, name: str) -> None:
    """Raise :class:`FileOutsideModel` unless ``path`` resolves inside ``directory``."""
    try:
        target = path.resolve()
    except (OSError, RuntimeError) as e:  # RuntimeError: a loop of links
        raise FileOutsideModel(
            f"{name}: cannot resolve the link ({e})",
            hint="replace the link with the file itself",
            detail={"file": name},
        ) from e
    if not any(target.is_relative_to(root) for root in confinement_roots(directory)):
        raise FileOutsideModel(
            f"{name}: a link to {target}, outside the model directory; refused unread",
            hint="copy the file into the model directory instead of linking to it",
            detail={"file": name},
        )


def _refuse_links_out(directory: Path) -> None:
    """Before anything is read: every link of ``directory`` must stay inside it."""
    for p in directory.iterdir():
        if not p.name.startswith(".") and p.is_symlink():
            confine(directory, p, p.name)


def check_source(source: ModelSource, directory: Path | None) -> None:
    """Refuse names, paths and counts beyond the limits, and files resolving outside
    ``directory`` (when the model is a directory)."""
    for f in [*source.files, *source.extra_files]:
        if (fault := name_fault(f.name, MAX_PATH_CHARS)) is not None:
            raise HeaderMalformed(
                f"{shown(f.name)}: the file name {fault}",
                hint="rename the file",
                detail={"file": shown(f.name)},
            )
        if directory is not None:
            confine(directory, f.path, f.name)
    empty = 0
    for t in source.tensors:
        if (fault := name_fault(t.name)) is not None:
            raise HeaderMalformed(
                f"{t.file}: tensor name {shown(t.name)} {fault}",
                hint="the file is damaged or hostile; re-download it from a trusted source",
                detail={"file": t.file},
            )
        empty += t.numel == 0
    if (fault := tensor_count_fault(len(source.tensors), empty)) is not None:
        where = source.files[0].name if len(source.files) == 1 else str(source.root)
        raise HeaderMalformed(
            f"{where}: {fault}",
            hint="the limit guards the registry against hostile files; real models stay under it",
            detail={"file": where},
        )


def release_files(directory: Path) -> list[WeightFile]:
    """The release's small files (config, tokenizer, card) present in ``directory``."""
    out = []
    for name in RELEASE_FILES:
        p = directory / name
        if p.is_file():
            out.append(WeightFile(path=p, name=name, size=p.stat().st_size))
    return out
