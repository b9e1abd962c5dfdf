"""Exports of a variant as a machine-learning bill of materials: CycloneDX 1.6 (ML-BOM) and
SPDX 3.0.1 (AI profile), built from the same gathered facts."""

from typing import TYPE_CHECKING

from registry.exports import lazy_surface

if TYPE_CHECKING:
    from registry.services.sbom.export import EXPORT_FORMATS, export_variant
    from registry.services.sbom.facts import ModelFacts, gather_facts

__all__, __getattr__ = lazy_surface(__name__, __file__)
