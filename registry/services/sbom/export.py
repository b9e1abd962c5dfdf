"""One entry point for every export format."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from registry.errors import InvalidInput
from registry.names import VariantRef
from registry.services.safeguards.policy import SafeguardPolicy
from registry.services.sbom.cyclonedx import cyclonedx_bom
from registry.services.sbom.facts import gather_facts
from registry.services.sbom.spdx import spdx_document

EXPORT_FORMATS = ("cyclonedx", "spdx")


def export_variant(
    session: Session, ref: VariantRef, fmt: str, policy: SafeguardPolicy
) -> dict[str, Any]:
    """The ``fmt`` document (cyclonedx or spdx) of ``ref``; raises :class:`VariantNotFound`
    and :class:`InvalidInput` for an unknown format."""
    if fmt not in EXPORT_FORMATS:
        raise InvalidInput(
            f"unknown export format {fmt!r}", hint=f"use one of: {', '.join(EXPORT_FORMATS)}"
        )
    facts = gather_facts(session, ref, policy)
    return cyclonedx_bom(facts) if fmt == "cyclonedx" else spdx_document(facts)
