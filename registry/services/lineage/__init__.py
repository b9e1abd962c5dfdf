"""Lineage: the graph around a variant, the checks of declared edges against the weights,
signed lineage claims and the logging of edge states.
"""

from typing import TYPE_CHECKING

from registry.exports import lazy_surface

if TYPE_CHECKING:
    from registry.services.lineage.checks import check_lineage
    from registry.services.lineage.claims import claim_lineage, claim_namespace
    from registry.services.lineage.edge_log import (
        edges_touching,
        log_edge_states,
        log_unlogged_edges,
    )
    from registry.services.lineage.graph import (
        DEFAULT_DEPTH,
        DEFAULT_PAGE,
        MAX_DEPTH,
        lineage_graph,
    )

__all__, __getattr__ = lazy_surface(__name__, __file__)
