"""Variants: registration (with declared parents and their checks), lookup and listing, and
model-card parsing.
"""

from typing import TYPE_CHECKING

from registry.exports import lazy_surface

if TYPE_CHECKING:
    from registry.services.variants.cards import (
        card_markers,
        declared_parents_from_card,
        declared_parents_from_metadata,
    )
    from registry.services.variants.listing import VARIANT_SORTS, list_variants
    from registry.services.variants.overview import latest_results, variant_overview
    from registry.services.variants.register import (
        edge_public,
        find_variant,
        get_variant,
        register_variant,
        show_variant,
        variant_or_placeholder,
    )

__all__, __getattr__ = lazy_surface(__name__, __file__)
