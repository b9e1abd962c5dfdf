"""One BLAS thread for the many small matrix products of sketching and comparison.

A sketch multiplies dozens of thin matrices (a few thousand rows by 40 columns). OpenBLAS splits
each product across its threads, and on a loaded machine the hand-offs cost far more than the
arithmetic: sketching a 1 GiB model ran 2-3x slower with the default thread pool than with one.
"""

from __future__ import annotations

from threadpoolctl import threadpool_limits


def one_blas_thread() -> threadpool_limits:
    """A context manager that limits BLAS libraries to one thread inside it."""
    return threadpool_limits(limits=1, user_api="blas")
