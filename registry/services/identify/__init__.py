"""Identification: which registered variants a fingerprint is identical to, derived from
or related to, found through the sketch index and scored by the weights' comparison.
"""

from typing import TYPE_CHECKING

from registry.exports import lazy_surface

if TYPE_CHECKING:
    from registry.services.identify.compare import (
        DETECT_MAX_FPR,
        Scored,
        compare_with_registry,
        identify,
    )
    from registry.services.identify.sketch_index import (
        BANDS,
        candidates,
        decode_sketch,
        load_sketch,
        store_sketch,
    )

__all__, __getattr__ = lazy_surface(__name__, __file__)
