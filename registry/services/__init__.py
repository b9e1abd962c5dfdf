"""Business rules shared by the CLI's local mode and the HTTP API.

Each function takes a Session, raises registry errors, returns wire models, and never imports
fastapi.
"""

from registry.names import VariantRef, parse_ref
from registry.services.cards import card_markers, declared_parents_from_card
from registry.services.lineage import lineage_graph
from registry.services.tokens import authenticate, create_token, require_publish
from registry.services.variants import list_variants, register_variant, show_variant

__all__ = [
    "VariantRef",
    "authenticate",
    "create_token",
    "card_markers",
    "declared_parents_from_card",
    "lineage_graph",
    "list_variants",
    "parse_ref",
    "register_variant",
    "require_publish",
    "show_variant",
]
