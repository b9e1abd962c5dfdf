"""Addresses on the command line: ``NAME[@REV]`` without ``@REV`` is left to the registry
(``main`` when registered, else the latest registered revision), or resolved here first when a
signature must name the exact revision."""

from __future__ import annotations

from registry.errors import VariantNotFound
from registry.interface import Registry
from registry.names import VariantRef, parse_ref, validate_name, validate_revision


def split_ref(ref: str) -> tuple[str, str | None]:
    """``NAME[@REV]`` validated; the revision is None when not given."""
    name, sep, revision = ref.strip().partition("@")
    return validate_name(name), (validate_revision(revision) if sep else None)


def resolved_ref(registry: Registry, ref: str) -> tuple[VariantRef, str | None]:
    """``(the variant ref means, the registry's note)``; a name not registered yet is taken as
    given (at main without @REV)."""
    name, revision = split_ref(ref)
    try:
        shown = registry.show(name, revision)
    except VariantNotFound:
        return parse_ref(ref), None
    return VariantRef(shown.name, shown.revision), shown.note
