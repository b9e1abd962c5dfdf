"""Variant addresses: ``namespace/name[@revision]``, validated as the Hugging Face Hub does."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from registry.errors import InvalidInput, InvalidName
from schemas import DeclaredParent

DEFAULT_REVISION = "main"
NAME_PART = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?$")
_REVISION = re.compile(r"^[A-Za-z0-9._][A-Za-z0-9._/+-]{0,199}$")


@dataclass(frozen=True)
class VariantRef:
    name: str
    revision: str = DEFAULT_REVISION
    #: False when the address gave no ``@REV``: the registry then takes ``main`` when it is
    #: registered, else the latest registered revision
    explicit: bool = field(default=True, compare=False)

    @property
    def asked_revision(self) -> str | None:
        """The revision as asked: None when the address gave none."""
        return self.revision if self.explicit else None

    @property
    def namespace(self) -> str:
        return self.name.split("/", 1)[0]

    def __str__(self) -> str:
        return f"{self.name}@{self.revision}"


def validate_name(name: str) -> str:
    """Return ``name`` if it is ``namespace/name`` as on the Hub; raise :class:`InvalidName`."""
    parts = name.split("/")
    if len(parts) != 2 or not all(NAME_PART.match(p) for p in parts) or ".." in name:
        raise InvalidName(
            f"invalid model name {name!r}",
            hint="use namespace/name as on the Hugging Face Hub, e.g. acme/llama-7b-chat",
        )
    return name


def validate_revision(revision: str) -> str:
    """Return ``revision`` if it is a branch, tag or commit-like string; else raise."""
    if not _REVISION.match(revision) or ".." in revision or revision.endswith("/"):
        raise InvalidName(
            f"invalid revision {revision!r}",
            hint="use a branch, tag or commit id such as main, v1.0 or a 40-character sha",
        )
    return revision


def parse_ref(text: str, *, default_revision: str = DEFAULT_REVISION) -> VariantRef:
    """Parse ``NAME[@REVISION]``; raises :class:`InvalidName` on a malformed address."""
    name, sep, revision = text.strip().partition("@")
    if sep and not revision:
        raise InvalidName(f"empty revision in {text!r}", hint="write NAME@REVISION or just NAME")
    return VariantRef(
        validate_name(name),
        validate_revision(revision or default_revision),
        explicit=bool(sep) or default_revision != DEFAULT_REVISION,
    )


def declared_parents(parents: Iterable[DeclaredParent]) -> list[tuple[VariantRef, str]]:
    """The parents a release declares, read the one way the CLI, the server and the signer all
    use: each ``NAME[@REV]`` parsed (``main`` by default), in the order given, each once.

    Raises :class:`InvalidName` on a malformed address and :class:`InvalidInput` when a parent
    is declared twice with different relations.
    """
    seen: dict[VariantRef, str] = {}
    for parent in parents:
        ref = parse_ref(parent.name)
        if seen.get(ref, parent.relation) != parent.relation:
            raise InvalidInput(
                f"parent {ref} is declared twice with different relations",
                hint="declare each parent once",
            )
        seen[ref] = parent.relation
    return list(seen.items())
