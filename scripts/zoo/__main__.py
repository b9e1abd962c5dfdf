"""Command line: ``python -m scripts.zoo --out DIR [--size tiny|small] [--independent N]
[--seed S]``. Needs the ``zoo`` extra (CPU torch, pinned)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.zoo", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="directory to write the zoo to")
    parser.add_argument("--size", choices=("tiny", "small"), default="tiny")
    parser.add_argument(
        "--independent", type=int, default=None, help="independent bases per architecture"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    n = args.independent if args.independent is not None else (4 if args.size == "tiny" else 2)
    if n < 1:
        parser.error("--independent must be at least 1")

    from .build import build_zoo  # imports torch: only once the arguments are valid

    t0 = time.perf_counter()
    entries = build_zoo(args.out, args.size, n, args.seed)
    print(f"{len(entries)} models in {args.out} ({time.perf_counter() - t0:.1f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
