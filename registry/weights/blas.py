"""One BLAS thread for the many small matrix products of sketching and comparison.

A sketch multiplies dozens of thin matrices (a few thousand rows by 40 columns) and a comparison
a few dozen small ones. OpenBLAS splits each product across its threads, and on a loaded machine
the hand-offs cost far more than the arithmetic: sketching a 1 GiB model ran 2-3x slower with
the default thread pool than with one thread.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from functools import lru_cache
from typing import Any

from threadpoolctl import ThreadpoolController


@lru_cache(maxsize=1)
def _controller() -> ThreadpoolController:
    """Found once: scanning the loaded libraries is the slow part of threadpoolctl."""
    return ThreadpoolController()


def one_blas_thread() -> AbstractContextManager[Any]:
    """A context manager that limits BLAS libraries to one thread inside it."""
    return _controller().limit(limits=1, user_api="blas")
