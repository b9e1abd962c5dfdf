"""Cold start: ``provreg --help`` and ``provreg show NAME`` against ``hf --help``, in one run.

Each command runs as a fresh process (``-X frozen_modules`` defaults; Python's bytecode caches
warm, as after any first run), alternating the three commands round after round so machine load
colours them alike; the median wall time of each is reported as a ratio to ``hf --help``
(huggingface_hub's CLI, installed with provreg). ``show`` reads a variant from a local SQLite
registry (local mode: the registry's app in the CLI's own process). Targets: ``--help`` ≤ 1.0
and ``show`` ≤ 1.5 times ``hf --help``.

``python -m benchmarks.startup [--rounds N]``. Writes the "Start-up" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._report import Figure, command_line, markdown_table, write_section
from tests.factories import tiny_tensors, write_model

TITLE = "Start-up"
HELP_TARGET, SHOW_TARGET = 1.0, 1.5


def _bin(name: str) -> str:
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} is not installed; install provreg (it brings huggingface_hub)")
    return found


def _wall(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, check=False)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.decode()[-400:]}")
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    provreg, hf = _bin("provreg"), _bin("hf")
    with tempfile.TemporaryDirectory(prefix="provreg-startup-") as tmp:
        env = {**os.environ, "PROVREG_HOME": tmp}
        env.pop("PROVREG_URL", None)
        model = write_model(Path(tmp) / "model", tiny_tensors(1))
        subprocess.run([provreg, "register", str(model), "--name", "acme/tiny"], env=env,
                       capture_output=True, check=True)  # fmt: skip
        commands = {
            "hf --help": [hf, "--help"],
            "provreg --help": [provreg, "--help"],
            "provreg show acme/tiny": [provreg, "show", "acme/tiny"],
        }
        for argv in commands.values():  # a first run compiles bytecode caches
            _wall(argv, env)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.rounds):
            for name, argv in commands.items():
                times[name].append(_wall(argv, env))
    median = {name: statistics.median(t) for name, t in times.items()}
    help_ratio = median["provreg --help"] / median["hf --help"]
    show_ratio = median["provreg show acme/tiny"] / median["hf --help"]
    figures = [
        Figure("`provreg --help` / `hf --help`", f"{help_ratio:.2f}", f"<= {HELP_TARGET}",
               help_ratio <= HELP_TARGET),
        Figure("`provreg show NAME` / `hf --help`", f"{show_ratio:.2f}", f"<= {SHOW_TARGET}",
               show_ratio <= SHOW_TARGET),
    ]  # fmt: skip
    rows = [
        [f"`{name}`", f"{median[name] * 1000:.0f}", f"{min(t) * 1000:.0f}", f"{max(t) * 1000:.0f}"]
        for name, t in times.items()
    ]
    details = (
        f"Wall time of a fresh process, {args.rounds} alternating rounds (ms):\n\n"
        + markdown_table(["command", "median", "min", "max"], rows)
        + "\n\nHeavy modules load where they are used: scipy (comparisons), onnx (ONNX models), "
        "ml_dtypes and gguf (GGUF and quantized tensors), numpy (a registration or an "
        "identification), Alembic (a database behind the newest schema); `--help` imports no "
        "registry code beyond the command tree. In local mode `show` runs the registry's app in "
        "the CLI's process, built lazily: a request loads only the route modules of its path "
        "(a variant's read: the variants routes), their services and the tables they use. "
        "What it still pays over `--help` is FastAPI (and pydantic.v1, which FastAPI loads to "
        "build any route), SQLAlchemy/SQLModel, requests and those few modules; a remote `show` "
        "(PROVREG_URL) loads none but requests. Figures taken on a shared machine under heavy "
        "load (see the load averages) colour both sides of the ratio."
    )
    path = write_section(
        TITLE,
        command=command_line("benchmarks.startup"),
        figures=figures,
        summary="Cold start of the CLI as a ratio to `hf --help` on the same machine, same run.",
        details=details,
    )
    for f in figures:
        print(f"{f.name}: {f.value} (target {f.target})")
    print(f"wrote {path}", file=sys.stderr)
    return 0 if all(f.met is not False for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
