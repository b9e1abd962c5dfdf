"""Model cards: read the declared parents (``base_model``, ``base_model_relation``) and the
tags and name that safeguard markers read from the YAML metadata block."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

import yaml
from huggingface_hub.repocard import metadata_load

from registry.errors import ModelCardInvalid
from schemas import RELATIONS, CardMarkers, DeclaredParent


def _card_metadata(path: Path) -> dict[str, object]:
    """The card's YAML metadata block, parsed by huggingface_hub; {} when it has none."""
    try:
        return metadata_load(path) or {}
    except FileNotFoundError:
        raise ModelCardInvalid(
            f"model card {path} not found", hint="pass the card's path"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" near line {mark.line + 2}" if mark is not None else ""
        raise ModelCardInvalid(
            f"{path}: the metadata block is not valid YAML{at}",
            hint="fix the YAML between the --- lines at the top of the card",
        ) from None
    except ValueError:
        raise ModelCardInvalid(
            f"{path}: the metadata block is not a mapping",
            hint="the block between the --- lines must hold key: value pairs",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelCardInvalid(f"cannot read model card {path}: {exc}") from None


def card_markers(path: Path) -> CardMarkers:
    """The card's markers: its metadata ``tags`` and name (``model_name`` or the first
    ``model-index`` entry's name). Raises :class:`ModelCardInvalid`."""
    meta = _card_metadata(path)
    tags = meta.get("tags") or []
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list):
        raise ModelCardInvalid(f"{path}: tags must be a list", hint="write tags: [a, b]")
    name = meta.get("model_name")
    index = meta.get("model-index")
    if name is None and isinstance(index, list) and index and isinstance(index[0], dict):
        name = index[0].get("name")
    clean = name.strip() if isinstance(name, str) and name.strip() else None
    return CardMarkers(tags=[str(t) for t in tags if t is not None], name=clean)


_ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin")


def infer_relation(bases: int, files: Iterable[str] = (), config: object = None) -> str:
    """The relation the Hub infers for a card without ``base_model_relation``: GGUF files or a
    ``quantization_config`` mean ``quantized``, adapter files ``adapter``, several base models
    ``merge``, anything else ``finetune``."""
    names = [PurePosixPath(f).name for f in files]
    quantized_config = isinstance(config, dict) and bool(config.get("quantization_config"))
    if quantized_config or any(n.lower().endswith(".gguf") for n in names):
        return "quantized"
    if any(n in _ADAPTER_FILES for n in names):
        return "adapter"
    return "merge" if bases > 1 else "finetune"


def _release_config(directory: Path) -> object:
    """``config.json`` beside a card, parsed; None when absent or unreadable (the relation is
    then inferred from file names alone)."""
    try:
        return json.loads((directory / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None


def declared_parents_from_card(
    path: Path, release_files: Iterable[str] | None = None
) -> list[DeclaredParent]:
    """The parents a model card declares, as :class:`DeclaredParent` items.

    ``base_model`` may be a string or a list; ``base_model_relation`` is one of the Hub's values.
    Without a relation it is inferred as the Hub does (:func:`infer_relation`) from the release's
    files: ``release_files`` when given, else the files beside the card. Raises
    :class:`ModelCardInvalid` naming the field at fault.
    """
    directory = path.parent
    if release_files is None:
        try:
            release_files = [p.name for p in directory.iterdir() if p.is_file()]
        except OSError:
            release_files = []
    return declared_parents_from_metadata(
        _card_metadata(path),
        str(path),
        files=release_files,
        config=_release_config(directory),
    )


def declared_parents_from_metadata(
    meta: dict[str, object],
    where: str,
    *,
    relation_hint: str | None = None,
    files: Iterable[str] = (),
    config: object = None,
) -> list[DeclaredParent]:
    """The parents declared by card metadata (``where`` names it in errors); without
    ``base_model_relation``, ``relation_hint`` (e.g. from the Hub's tags), else inferred from
    the release's ``files`` and ``config`` as the Hub does. Raises :class:`ModelCardInvalid`."""
    base = meta.get("base_model")
    if base is None:
        return []
    bases = [base] if isinstance(base, str) else base
    if not isinstance(bases, list) or not all(isinstance(b, str) and b.strip() for b in bases):
        raise ModelCardInvalid(
            f"{where}: base_model must be a model id or a list of model ids",
            hint="write base_model: namespace/name",
        )
    relation = meta.get("base_model_relation") or relation_hint
    if relation is None:
        relation = infer_relation(len(bases), files, config)
    if relation not in RELATIONS:
        raise ModelCardInvalid(
            f"{where}: base_model_relation {relation!r} is not a known relation",
            hint="use one of " + ", ".join(RELATIONS),
        )
    return [DeclaredParent(name=b.strip(), relation=relation) for b in bases]
