"""Identification over the real-tools corpus: pairwise accuracy, the independent and kin nulls,
and a registry-level pass.

What it measures
    1. Derivative->parent pairs. Every derivation edge of the corpus (``scripts.realzoo``:
       ``transformers`` models of four architectures; derivatives made by PEFT,
       ``resize_token_embeddings``, a vocabulary trim, ``torch.onnx.export`` + onnxruntime's
       optimizer, ``onnxruntime.quantization``, llama.cpp-style GGUF, shuffled safetensors) is
       compared with ``compare_sketches(child, parent)``: recall (``derived``/``identical``),
       relation accuracy and direction accuracy (where the manifest records structural
       evidence), per transformation and per architecture.
    2. Nulls. Every unordered same-architecture pair the ground truth calls ``unrelated``
       (independently trained: different seeds) and every pair of kin (models built around one
       model's embedding table or first layer, trained apart: truly ``related``, never
       ``derived``), compared once: false ``derived``/``related`` (independent) and false
       ``derived``/``identical`` (kin).
    3. Registry-level. Every model of the corpus registered through ``register_variant`` on a
       fresh SQLite database with no declared lineage, in 3 random orders; the detected edges
       against the truth. An edge is exact when the truth has it (models with identical weights
       count as one node, in either direction); it is a false edge when its parent is not a true
       ancestor of its child. Recall counts true edges found exactly; relation accuracy is scored
       on exact edges; direction accuracy on every detected edge between a model and a true
       ancestor or descendant.

Run: ``python -m benchmarks.identify_real [--zoo DIR] [--orders 3]``. Without ``--zoo`` the
corpus is built into ``.bench/realzoo`` (``python -m scripts.realzoo --out .bench/realzoo
--null 25 --kin 16``, about 10 minutes, needs the ``zoo`` extra). Writes the "Identify:
real-tools corpus" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from itertools import combinations
from pathlib import Path

from benchmarks._report import REPORT_PATH, Figure, command_line, markdown_table, write_section

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ZOO = ROOT / ".bench" / "realzoo"
MODULE = "benchmarks.identify_real"
SECTION = "Identify: real-tools corpus"
MIN_INDEPENDENT, MIN_KIN = 300, 100
TARGET_PAIR_RECALL = 0.98
TARGET_EDGE_RECALL, TARGET_RELATION, TARGET_DIRECTION = 0.95, 0.9, 0.9


def log(msg: str) -> None:
    print(msg, flush=True)


def ensure_zoo(zoo: Path | None) -> Path:
    if zoo is not None:
        return zoo
    if not (DEFAULT_ZOO / "manifest.json").exists():
        log(f"building the real-tools corpus into {DEFAULT_ZOO} ...")
        cmd = [sys.executable, "-m", "scripts.realzoo", "--out", str(DEFAULT_ZOO)]
        subprocess.run([*cmd, "--null", "25", "--kin", "16"], check=True, cwd=ROOT)
    return DEFAULT_ZOO


def fmt(num: int, den: int) -> str:
    return "-" if not den else f"{num / den:.3f} ({num}/{den})"


def ok(num: int, den: int, target: float) -> bool:
    return bool(den) and num / den >= target


# --- 1. derivative -> parent pairs ------------------------------------------------------------


def parent_pairs(manifest, prints) -> tuple[list[dict], list[str]]:
    from registry.weights.compare import compare_sketches
    from scripts.zoo.truth import DERIVATIONS

    rows, details = [], []
    for e in manifest:
        for p in e["parents"]:
            if p["relation"] not in DERIVATIONS:
                continue
            c = compare_sketches(prints[e["id"]][1], prints[p["id"]][1])
            found = c.verdict in ("derived", "identical")
            lossless = e.get("weights_sha256") is not None
            relation_ok = found and (
                c.relation == p["relation"]
                or (c.verdict == "identical" and p["relation"] == "repackaged" and lossless)
            )
            evidence = e.get("direction_evidence") or ""
            direction_ok = None
            if found and evidence and not evidence.startswith("none"):
                direction_ok = c.direction == "a_is_child"
            rows.append(
                {
                    "child": e["id"],
                    "parent": p["id"],
                    "arch": e["architecture"],
                    "transformation": e["transformation"],
                    "found": found,
                    "relation_ok": relation_ok if found else None,
                    "direction_ok": direction_ok,
                }
            )
            if not found or not relation_ok or direction_ok is False:
                details.append(
                    f"`{e['id']} -> {p['id']}` ({p['relation']}): {c.verdict}, relation "
                    f"{c.relation}, direction {c.direction}, log10 p {c.log10_p:.1f}"
                )
    return rows, details


def group_rows(rows: list[dict], key: str) -> list[list[object]]:
    per: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        g = per[r[key]]
        g["pairs"] += 1
        g["found"] += int(r["found"])
        if r["relation_ok"] is not None:
            g["rel_n"] += 1
            g["rel_ok"] += int(r["relation_ok"])
        if r["direction_ok"] is not None:
            g["dir_n"] += 1
            g["dir_ok"] += int(r["direction_ok"])
    return [
        [
            k,
            g["pairs"],
            fmt(g["found"], g["pairs"]),
            fmt(g["rel_ok"], g["rel_n"]),
            fmt(g["dir_ok"], g["dir_n"]),
        ]
        for k, g in sorted(per.items())
    ]


# --- 2. nulls -----------------------------------------------------------------------------------


KIN_KINDS = {
    "kin-shared-embeddings",
    "kin-emb-frozen",
    "kin-emb-trained",
    "kin-emb+layer0",
    "kin-depth",
}


def null_pairs(manifest, prints) -> dict:
    from registry.weights.compare import compare_sketches
    from scripts.zoo.truth import PARTIAL, expected_verdict

    out = {
        "independent": 0,
        "kin": 0,
        "false_independent": [],
        "false_kin": [],
        "kin_related": 0,
        "by_verdict": defaultdict(int),
        "by_kind": defaultdict(lambda: defaultdict(int)),
    }
    arch = {e["id"]: e["architecture"] for e in manifest}
    kind = {e["id"]: e["transformation"] for e in manifest}
    for a, b in combinations([e["id"] for e in manifest], 2):
        if arch[a] != arch[b]:
            continue
        truth, relation, _ = expected_verdict(manifest, a, b)
        kin = truth == "related" and relation in PARTIAL
        if truth != "unrelated" and not kin:
            continue
        c = compare_sketches(prints[a][1], prints[b][1])
        if kin:
            out["kin"] += 1
            out["kin_related"] += int(c.verdict == "related")
            label = " / ".join(sorted({kind[a], kind[b]} & KIN_KINDS) or ["?"])
            out["by_kind"][f"{arch[a]}: {label}"][c.verdict] += 1
            if c.verdict in ("derived", "identical"):
                out["false_kin"].append(f"`{a}` vs `{b}`: {c.verdict} ({c.relation})")
        else:
            out["independent"] += 1
            out["by_verdict"][c.verdict] += 1
            if c.verdict != "unrelated":
                out["false_independent"].append(f"`{a}` vs `{b}`: {c.verdict}")
    return out


# --- 3. registry-level pass ---------------------------------------------------------------------


def registry_pass(manifest, prints, orders: int, seed: int) -> dict:
    from sqlmodel import Session

    from registry.db import make_engine, upgrade_database
    from scripts.zoo.graph_truth import register_without_lineage, score_edges, true_edges

    truth = true_edges(manifest)
    arch = {e["id"]: e["architecture"] for e in manifest}
    totals: dict[str, int] = defaultdict(int)
    by_arch: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    lists: dict[str, list[str]] = {"false_edges": [], "missed": [], "wrong_relation": []}
    n_true = 0
    for k in range(orders):
        order = [e["id"] for e in manifest]
        random.Random(seed + k).shuffle(order)
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="provreg-real-") as tmp:
            engine = make_engine(url=f"sqlite:///{Path(tmp) / 'reg.db'}")
            upgrade_database(engine)
            try:
                with Session(engine) as session:
                    edges = register_without_lineage(session, order, prints)
            finally:
                engine.dispose()
        log(f"registry pass {k + 1}/{orders}: {len(edges)} edges "
            f"({time.perf_counter() - t0:.0f} s)")  # fmt: skip
        s = score_edges(manifest, edges)
        n_true = s.true_edges
        for name in ("detected", "exact", "direction_checked", "direction_ok",
                     "relation_checked", "relation_ok", "true_edges"):  # fmt: skip
            totals[name] += getattr(s, name)
        totals["found"] += len(s.found)
        for name in ("false_edges", "missed", "wrong_relation"):
            lists[name] += [f"order {k}: {x}" for x in getattr(s, name)]
        for a in set(arch.values()):
            mine = [e for e in edges if arch[e[0]] == a]
            part = score_edges(manifest, mine)
            by_arch[a]["detected"] += part.detected
            by_arch[a]["false"] += len(part.false_edges)
            by_arch[a]["found"] += len(part.found)
            by_arch[a]["true"] += sum(1 for c, _ in truth if arch[c] == a)
    return {"totals": dict(totals), "by_arch": by_arch, "true_edges": n_true, **lists}


# --- report -------------------------------------------------------------------------------------


def report(rows, pair_details, null, reg, n_models, seconds, output: Path) -> bool:
    found = sum(r["found"] for r in rows)
    rel = [r["relation_ok"] for r in rows if r["relation_ok"] is not None]
    dr = [r["direction_ok"] for r in rows if r["direction_ok"] is not None]
    t = reg["totals"]
    precise = t.get("detected", 0) - len(reg["false_edges"])
    figures = [
        Figure(
            "derivative->parent pairs: recall",
            fmt(found, len(rows)),
            f">= {TARGET_PAIR_RECALL}",
            ok(found, len(rows), TARGET_PAIR_RECALL),
        ),
        Figure(
            "derivative->parent pairs: relation accuracy (found pairs)",
            fmt(sum(rel), len(rel)),
            f">= {TARGET_RELATION}",
            ok(sum(rel), len(rel), TARGET_RELATION),
        ),
        Figure(
            "derivative->parent pairs: direction accuracy (structural evidence)",
            fmt(sum(dr), len(dr)),
            f">= {TARGET_DIRECTION}",
            ok(sum(dr), len(dr), TARGET_DIRECTION),
        ),
        Figure(
            "independent same-architecture pairs compared",
            str(null["independent"]),
            f">= {MIN_INDEPENDENT}",
            null["independent"] >= MIN_INDEPENDENT,
        ),
        Figure(
            "false derived/related over independent pairs",
            str(len(null["false_independent"])),
            "0",
            not null["false_independent"],
        ),
        Figure("kin pairs compared", str(null["kin"]), f">= {MIN_KIN}", null["kin"] >= MIN_KIN),
        Figure(
            "false derived/identical over kin pairs",
            str(len(null["false_kin"])),
            "0",
            not null["false_kin"],
        ),
        Figure("kin pairs called related (truthful)", fmt(null["kin_related"], null["kin"])),
        Figure(
            "registry pass: edge precision (no false edge)",
            fmt(precise, t.get("detected", 0)),
            "1.00",
            t.get("detected", 0) > 0 and not reg["false_edges"],
        ),
        Figure(
            "registry pass: exact edges among detected",
            fmt(t.get("exact", 0), t.get("detected", 0)),
        ),
        Figure(
            "registry pass: edge recall",
            fmt(t.get("found", 0), t.get("true_edges", 0)),
            f">= {TARGET_EDGE_RECALL}",
            ok(t.get("found", 0), t.get("true_edges", 0), TARGET_EDGE_RECALL),
        ),
        Figure(
            "registry pass: relation accuracy (exact edges)",
            fmt(t.get("relation_ok", 0), t.get("relation_checked", 0)),
            f">= {TARGET_RELATION}",
            ok(t.get("relation_ok", 0), t.get("relation_checked", 0), TARGET_RELATION),
        ),
        Figure(
            "registry pass: direction accuracy (edges between ancestor and descendant)",
            fmt(t.get("direction_ok", 0), t.get("direction_checked", 0)),
            f">= {TARGET_DIRECTION}",
            ok(t.get("direction_ok", 0), t.get("direction_checked", 0), TARGET_DIRECTION),
        ),
    ]

    def listing(title: str, items: list[str], limit: int = 60) -> str:
        if not items:
            return f"{title}: none"
        more = f"\n- ... and {len(items) - limit} more" if len(items) > limit else ""
        return f"{title} ({len(items)}):\n\n" + "\n".join(f"- {x}" for x in items[:limit]) + more

    header = ["", "pairs", "recall", "relation acc.", "direction acc."]
    details = "\n\n".join(
        [
            f"{n_models} models; sketching, pairs and registry passes took {seconds:.0f} s.",
            "Per transformation (derivative->parent pairs, `compare_sketches(child, parent)`):",
            markdown_table(["Transformation", *header[1:]], group_rows(rows, "transformation")),
            "Per architecture:",
            markdown_table(["Architecture", *header[1:]], group_rows(rows, "arch")),
            listing(
                "Failing derivative->parent pairs (missed, wrong relation or direction)",
                pair_details,
            ),
            "Independent pairs by verdict: "
            + ", ".join(f"{k} {v}" for k, v in sorted(null["by_verdict"].items())),
            listing("False positives over independent pairs", null["false_independent"]),
            "Kin pairs by the kind of kin involved (`kin-emb+layer0` shares the embedding table "
            "and the first of two layers) and verdict:",
            markdown_table(
                ["Kin", "unrelated", "related", "derived", "identical"],
                [
                    [k, *(v.get(x, 0) for x in ("unrelated", "related", "derived", "identical"))]
                    for k, v in sorted(null["by_kind"].items())
                ],
            ),
            listing("Kin pairs called derived/identical", null["false_kin"]),
            f"Registry pass: {reg['true_edges']} true edges per order (identical-weight copies "
            "merged into one node).",
            markdown_table(
                ["Architecture (child)", "detected edges", "false edges", "precision", "recall"],
                [
                    [
                        a,
                        v["detected"],
                        v["false"],
                        fmt(v["detected"] - v["false"], v["detected"]),
                        fmt(v["found"], v["true"]),
                    ]
                    for a, v in sorted(reg["by_arch"].items())
                ],
            ),
            listing("False edges (parent not a true ancestor)", reg["false_edges"]),
            listing("Missed true edges", reg["missed"]),
            listing("Exact edges with the wrong relation", reg["wrong_relation"]),
        ]
    )
    summary = (
        "Detection on derivatives made by the tools people use (`scripts/realzoo`), against "
        "independent and kin nulls, pairwise and through the registry."
    )
    write_section(SECTION, command=command_line(MODULE), figures=figures, summary=summary,
                  details=details, path=output)  # fmt: skip
    return not any(f.met is False for f in figures)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zoo", type=Path, default=None, help="the corpus (else built)")
    parser.add_argument("--orders", type=int, default=3, help="random registration orders")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=REPORT_PATH)
    args = parser.parse_args(argv)
    zoo = ensure_zoo(args.zoo)

    from scripts.zoo.evaluate import fingerprint_with_sketch
    from scripts.zoo.truth import load_manifest

    t0 = time.perf_counter()
    manifest = load_manifest(zoo)
    prints = {e["id"]: fingerprint_with_sketch(zoo / e["path"]) for e in manifest}
    log(f"sketched {len(prints)} models ({time.perf_counter() - t0:.0f} s)")
    rows, details = parent_pairs(manifest, prints)
    log(f"pairs: {sum(r['found'] for r in rows)}/{len(rows)} found")
    null = null_pairs(manifest, prints)
    log(
        f"null: {null['independent']} independent, {len(null['false_independent'])} false; "
        f"{null['kin']} kin, {len(null['false_kin'])} false derived"
    )
    reg = registry_pass(manifest, prints, args.orders, args.seed)
    met = report(rows, details, null, reg, len(manifest), time.perf_counter() - t0, args.output)
    log(f"wrote {args.output}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
