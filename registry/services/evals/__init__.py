"""Evaluations: results added by hand, signed by evaluators or imported from lm-eval,
model-index and .eval_results files.
"""

from typing import TYPE_CHECKING

from registry.exports import lazy_surface

if TYPE_CHECKING:
    from registry.services.evals.formats import read_hf_eval_results, read_model_index, read_results
    from registry.services.evals.results import (
        add_results,
        add_signed_results,
        import_results,
        list_all_results,
        list_results,
        resolve_category,
    )

__all__, __getattr__ = lazy_surface(__name__, __file__)
