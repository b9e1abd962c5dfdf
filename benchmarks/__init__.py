"""Scripts that measure provreg and write their figures into BENCHMARKS.md."""
