"""Exports: a variant as a CycloneDX ML-BOM or an SPDX 3.0.1 AI package."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from registry.api.deps import ERRORS, PolicyDep, SessionDep, variant_ref
from schemas.exports import ExportFormat

router = APIRouter()


@router.get(
    "/variants/{namespace}/{name}/export",
    response_model=dict[str, Any],
    responses=ERRORS,
    tags=["variants"],
)
def export(
    namespace: str,
    name: str,
    session: SessionDep,
    policy: PolicyDep,
    format: ExportFormat = "cyclonedx",  # noqa: A002 - the query parameter's public name
    revision: str = "main",
) -> dict[str, Any]:
    """The variant as a CycloneDX 1.6 ML-BOM or an SPDX 3.0.1 JSON-LD document (AI profile)."""
    # loaded on the first export: this module is included with every /v1/variants read
    from registry.services.sbom import export_variant

    return export_variant(session, variant_ref(namespace, name, revision), format, policy)
