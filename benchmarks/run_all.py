"""Run every benchmark with its defaults, one after the other; ``make bench`` calls this.

Each benchmark runs in a child process of its own (so one's memory and threads cannot colour
the next one's figures) and writes its own section of BENCHMARKS.md. Exits non-zero if any
benchmark failed or missed a target.
"""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = (
    "benchmarks.lineage_forest",
    "benchmarks.fingerprint_vs_model_signing",
    "benchmarks.hub_sync",
    "benchmarks.fuzz_inputs",
    "benchmarks.startup",
)


def main() -> int:
    failed = []
    for module in BENCHMARKS:
        print(f"== {module}", flush=True)
        if subprocess.run([sys.executable, "-m", module], check=False).returncode != 0:
            failed.append(module)
    if failed:
        print(f"failed or missed a target: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
