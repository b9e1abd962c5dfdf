"""Command line: ``python -m scripts.realzoo --out DIR [--fixtures] [--null N] [--kin K]
[--seed S] [--archs llama,qwen2,gpt2,bert]``. Needs the ``zoo`` extra (CPU torch, pinned)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.realzoo", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="directory to write the zoo to")
    parser.add_argument("--fixtures", action="store_true", help="only the committed subset")
    parser.add_argument("--null", type=int, default=0, help="extra independent llama models")
    parser.add_argument("--kin", type=int, default=0, help="kin of llama-b0")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--archs", default="llama,qwen2,gpt2,bert")
    args = parser.parse_args(argv)
    archs = tuple(a for a in args.archs.split(",") if a)
    if args.fixtures and (args.null or args.kin):
        parser.error("--fixtures writes the committed subset only: drop --null/--kin")

    import warnings

    warnings.filterwarnings("ignore")
    from .build import build  # imports torch: only once the arguments are valid

    t0 = time.perf_counter()
    entries = build(args.out, args.seed, args.null, args.kin, args.fixtures, archs)
    print(f"{len(entries)} models in {args.out} ({time.perf_counter() - t0:.1f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
