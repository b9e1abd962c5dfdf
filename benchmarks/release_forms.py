"""Rotated and mixture-of-experts releases: recall per form, and the nulls.

What it measures
    Over the real-tools zoo's independently trained tiny llamas (``llama-b0``, ``llama-b1``,
    ``llama-n*``) and the kin of ``llama-b0`` (``llama-k*``: its embedding table, or also its
    first layer, trained around):

    * rotations (``scripts/realzoo/rotate.py``: norms folded, residual stream rotated by a
      random orthogonal or a randomised Hadamard matrix), plain, int8 per row, GGUF Q8_0 and
      Q4_0 after it: recall is ``derived`` with the expected relation (``repackaged``, or
      ``quantized``) and the rotated side the child;
    * mixture of experts (``scripts/realzoo/moe.py``): upcycled from the dense model (per-expert
      and stacked layouts: ``derived``, ``finetune``, the MoE the child), experts pruned
      (``pruned``, the fewer experts the child), experts reordered (``derived``);
    Recall is measured on every model of the pool (kin included: their layers were trained).

    * nulls: every form against every other independent model and its own form (``derived``
      or ``related`` is false), and forms of ``llama-b0`` against its kin, forms of its kin
      against ``llama-b0`` (``derived`` is false).

Run: ``python -m benchmarks.release_forms --zoo .bench/realzoo`` (the zoo from
``python -m scripts.realzoo --out .bench/realzoo --null 6 --kin 4 --archs llama,qwen2``).
Writes the "Release forms: rotations" and "Release forms: mixture of experts" sections.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from benchmarks._report import Figure, command_line, markdown_table, write_section
from registry.weights import compare_sketches, sketch_path
from registry.weights.sketch import Sketch
from scripts.realzoo.moe import select_experts, upcycle
from scripts.realzoo.rotate import int8_per_row, rotate_model
from scripts.realzoo.tools import export_gguf

Maker = Callable[[Path, Path], Path]
ROTATIONS: dict[str, tuple[Maker, str]] = {
    "rotated": (lambda src, out: rotate_model(src, out / "rot", seed=3), "repackaged"),
    "Hadamard": (lambda src, out: rotate_model(src, out / "had", seed=4, hadamard=True),
                 "repackaged"),
    "Hadamard + int8": (lambda src, out: int8_per_row(
        rotate_model(src, out / "had", seed=4, hadamard=True), out / "had-int8"), "quantized"),
    "rotated + GGUF Q8_0": (lambda src, out: export_gguf(
        rotate_model(src, out / "rot", seed=3), out / "rot-q8_0.gguf", "q8_0"), "quantized"),
    "Hadamard + GGUF Q4_0": (lambda src, out: export_gguf(
        rotate_model(src, out / "had", seed=4, hadamard=True), out / "had-q4_0.gguf", "q4_0"),
        "quantized"),
}  # fmt: skip


def _moe_forms(src: Path, out: Path) -> dict[str, tuple[Path, str, str]]:
    """form -> (path, expected relation, what it is compared with: 'dense' or 'moe')."""
    per = upcycle(src, out / "up", seed=1)
    stacked = upcycle(src, out / "up-stacked", seed=2, stacked=True)
    return {
        "upcycled (per-expert)": (per, "finetune", "dense"),
        "upcycled (stacked)": (stacked, "finetune", "dense"),
        "experts pruned 4 -> 2": (select_experts(per, out / "pruned", [3, 1]), "pruned", "moe"),
        "experts pruned 4 -> 3 (stacked)": (
            select_experts(stacked, out / "pruned-s", [0, 2, 3]), "pruned", "moe-stacked"),
        "experts reordered": (
            select_experts(stacked, out / "reordered", [2, 0, 3, 1]), "repackaged", "moe-stacked"),
    }  # fmt: skip


def _pool(zoo: Path) -> tuple[list[Path], list[Path]]:
    dirs = [p for p in zoo.iterdir() if p.is_dir() and p.name.count("-") == 1]
    bases = sorted(p for p in dirs if p.name.startswith(("llama-b", "llama-n", "qwen2-b")))
    kin = sorted(p for p in dirs if p.name.startswith("llama-k"))
    return bases, kin


class Tally:
    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.total: Counter[str] = Counter()
        self.false_ind = self.ind = self.false_kin = self.kin = 0
        self.misses: list[str] = []

    def recall(self, form: str, ok: bool, what: str) -> None:
        self.total[form] += 1
        self.hits[form] += ok
        if not ok:
            self.misses.append(what)

    def null(self, a: Sketch, b: Sketch, kin: bool, what: str) -> None:
        verdict = compare_sketches(a, b).verdict
        if kin:
            self.kin += 1
            self.false_kin += verdict == "derived"
        else:
            self.ind += 1
            self.false_ind += verdict in ("derived", "related")
        if verdict == "derived" or (not kin and verdict == "related"):
            self.misses.append(f"null {what}: {verdict}")

    def figures(self) -> list[Figure]:
        out = [
            Figure(f"recall: {form}", f"{self.hits[form]}/{n}", "all", self.hits[form] == n)
            for form, n in self.total.items()
        ]
        out.append(
            Figure(
                "false derived/related, independent pairs",
                f"{self.false_ind}/{self.ind}",
                "0",
                self.false_ind == 0,
            )
        )
        out.append(Figure("false derived, kin pairs", f"{self.false_kin}/{self.kin}", "0",
                          self.false_kin == 0))  # fmt: skip
        return out


def _ok(c_verdict: str, relation: str | None, direction: str, want: str) -> bool:
    return c_verdict == "derived" and relation == want and direction == "a_is_child"


def rotations(bases: list[Path], kin: list[Path], work: Path) -> Tally:
    tally = Tally()
    plain = {p.name: sketch_path(p) for p in [*bases, *kin]}
    formed: dict[str, dict[str, Sketch]] = {}
    for p in [*bases, *kin]:
        formed[p.name] = {f: sketch_path(m(p, work / p.name)) for f, (m, _) in ROTATIONS.items()}
        print(f"rotated {p.name}", file=sys.stderr, flush=True)
    for p in [*bases, *kin]:
        for form, (_, want) in ROTATIONS.items():
            c = compare_sketches(formed[p.name][form], plain[p.name])
            ok = _ok(c.verdict, c.relation, c.direction, want)
            tally.recall(form, ok, f"{form} of {p.name}: {c.verdict} {c.relation} {c.direction}")
    everyone = [p.name for p in [*bases, *kin]]
    for a in everyone:
        for b in everyone:
            if a == b or (a.startswith("llama-k") and b.startswith("llama-k")):
                continue
            related = "llama-b0" in (a, b) and (a.startswith("llama-k") or b.startswith("llama-k"))
            for form in ROTATIONS:
                tally.null(formed[a][form], plain[b], related, f"{form} of {a} vs {b}")
            tally.null(formed[a]["rotated"], formed[b]["Hadamard"], related,
                       f"rotated {a} vs Hadamard {b}")  # fmt: skip
    return tally


def experts(bases: list[Path], kin: list[Path], work: Path) -> Tally:
    tally = Tally()
    plain = {p.name: sketch_path(p) for p in [*bases, *kin]}
    forms: dict[str, dict[str, tuple[Sketch, str, str]]] = {}
    for p in [*bases, *kin]:
        made = _moe_forms(p, work / f"moe-{p.name}")
        forms[p.name] = {f: (sketch_path(path), want, vs) for f, (path, want, vs) in made.items()}
        print(f"MoE forms of {p.name}", file=sys.stderr, flush=True)
    for p in [*bases, *kin]:
        f = forms[p.name]
        against = {"dense": plain[p.name], "moe": f["upcycled (per-expert)"][0],
                   "moe-stacked": f["upcycled (stacked)"][0]}  # fmt: skip
        for form, (sketch, want, vs) in f.items():
            c = compare_sketches(sketch, against[vs])
            ok = _ok(c.verdict, c.relation, c.direction, want) or (
                want == "repackaged" and c.verdict == "derived"
            )
            tally.recall(form, ok, f"{form} of {p.name}: {c.verdict} {c.relation} {c.direction}")
    everyone = [p.name for p in [*bases, *kin]]
    for a in everyone:
        for b in everyone:
            if a == b or (a.startswith("llama-k") and b.startswith("llama-k")):
                continue
            related = "llama-b0" in (a, b) and (a.startswith("llama-k") or b.startswith("llama-k"))
            up_a = forms[a]["upcycled (per-expert)"][0]
            tally.null(up_a, plain[b], related, f"upcycled {a} vs {b}")
            tally.null(up_a, forms[b]["upcycled (stacked)"][0], related,
                       f"upcycled {a} vs upcycled {b}")  # fmt: skip
    return tally


def _write(title: str, tally: Tally, summary: str, pool: list[Path]) -> bool:
    figures = tally.figures()
    details = "Models: " + ", ".join(p.name for p in pool) + "."
    if tally.misses:
        details += "\n\n" + markdown_table(["missed or false"], [[m] for m in tally.misses[:40]])
    write_section(title, command=command_line("benchmarks.release_forms"), figures=figures,
                  summary=summary, details=details)  # fmt: skip
    return all(f.met is not False for f in figures)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zoo", type=Path, default=Path(".bench/realzoo"))
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="provreg-forms-"))
    bases, kin = _pool(args.zoo)
    ok = _write(
        "Release forms: rotations",
        rotations(bases, kin, work),
        "Residual-stream rotations (QuaRot/SpinQuant style), with quantization after them, "
        "against independently trained models and kin.",
        [*bases, *kin],
    )
    ok &= _write(
        "Release forms: mixture of experts",
        experts(bases, kin, work),
        "MoE models upcycled from dense ones, experts pruned and reordered, against "
        "independently trained models and kin.",
        [*bases, *kin],
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
