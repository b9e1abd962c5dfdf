"""Business rules, one package per domain: ``variants``, ``lineage``, ``identify``, ``trust``,
``safeguards``, ``downloads`` and ``evals`` (the Hub integration is :mod:`registry.hub`).

Each function takes a Session, raises registry errors, returns wire models, and never imports
fastapi. What most callers need is named here.
"""

from typing import TYPE_CHECKING

from registry.exports import lazy_surface

if TYPE_CHECKING:
    from registry.services.lineage import lineage_graph
    from registry.services.trust import authenticate, create_token, require_publish
    from registry.services.variants import (
        card_markers,
        declared_parents_from_card,
        list_variants,
        register_variant,
        show_variant,
    )

__all__, __getattr__ = lazy_surface(__name__, __file__)
