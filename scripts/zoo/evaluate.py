"""Score provreg's identification against the zoo's ground truth.

Every zoo model is registered (parents first, with the lineage its manifest declares, as a
publisher would), then each model's own files are identified against the registry with the
model itself left out. A query is scored on its parents: each must come back ``derived`` (a
lossless copy may also be ``identical``) with the manifest's relation, and pointing the right
way where the transformation leaves structural evidence. Every registered model from an
independently trained family that comes back as anything but unrelated is a false positive.
Needs the registry and a database session; no torch.
"""

from __future__ import annotations

import base64
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from registry.db.models import Variant
from registry.services.identify import Scored, compare_with_registry
from registry.services.variants import register_variant
from registry.weights import fingerprint_source, open_model
from registry.weights.sketch import Sketch
from registry.weights.sketching import sketch_source
from schemas import DeclaredParent, VariantCreate, WeightsFingerprint

from .truth import ancestors, expected_verdict, load_manifest

RELATIONS = {"finetune", "adapter", "merge", "quantized", "pruned", "distilled", "repackaged"}


def zoo_name(model_id: str) -> str:
    return f"zoo/{model_id}"


@dataclass
class QueryOutcome:
    """How identification did for one zoo model."""

    id: str
    transformation: str
    parents: list[dict[str, str]]
    found: bool  # every parent came back derived (or identical)
    relation_ok: bool | None  # None: no parent with a relation to check
    direction_ok: bool | None  # None: no structural evidence expected
    false_positives: list[str] = field(default_factory=list)
    matches: list[dict[str, Any]] = field(default_factory=list)


def _topological(manifest: list[dict]) -> list[dict]:
    done: set[str] = set()
    out: list[dict] = []
    pending = list(manifest)
    while pending:
        rest = []
        for e in pending:
            if all(p["id"] in done for p in e["parents"]):
                out.append(e)
                done.add(e["id"])
            else:
                rest.append(e)
        if len(rest) == len(pending):
            raise ValueError("manifest parents form a cycle")
        pending = rest
    return out


def fingerprint_with_sketch(path: Path) -> tuple[WeightsFingerprint, Sketch]:
    source = open_model(path)
    fingerprint = fingerprint_source(source, workers=1)
    sketch = sketch_source(source)
    fingerprint.sketch = base64.b64encode(sketch.to_bytes()).decode()
    return fingerprint, sketch


def register_zoo(session: Session, root: Path) -> dict[str, tuple[WeightsFingerprint, Sketch]]:
    """Register every zoo model with its declared lineage; return fingerprints and sketches."""
    manifest = load_manifest(root)
    out: dict[str, tuple[WeightsFingerprint, Sketch]] = {}
    for e in _topological(manifest):
        fp, sketch = fingerprint_with_sketch(root / e["path"])
        out[e["id"]] = (fp, sketch)
        parents = [
            DeclaredParent(name=zoo_name(p["id"]), relation=p["relation"])
            for p in e["parents"]
            if p["relation"] in RELATIONS
        ]
        register_variant(
            session, VariantCreate(name=zoo_name(e["id"]), fingerprint=fp, parents=parents)
        )
    return out


def _as_dict(s: Scored) -> dict[str, Any]:
    return {
        "name": s.variant.name.removeprefix("zoo/"),
        "verdict": s.verdict,
        "relation": s.relation,
        "direction": s.direction,
        "score": round(s.score, 4),
        "fpr": s.fpr,
        "parents": [p.split("@")[0].removeprefix("zoo/") for p in s.parents or []],
    }


def identify_zoo(
    session: Session, root: Path, prints: dict[str, tuple[WeightsFingerprint, Sketch]]
) -> list[QueryOutcome]:
    """Identify each zoo model against the registered zoo with itself left out."""
    manifest = load_manifest(root)
    ids = {v.name.removeprefix("zoo/"): v.id for v in session.exec(select(Variant))}
    outcomes = []
    for e in manifest:
        fp, sketch = prints[e["id"]]
        own = ids[e["id"]]
        assert own is not None
        scored = compare_with_registry(session, sketch, exclude={own}, digest=fp.digest)
        matches = [_as_dict(s) for s in scored]
        by_name = {m["name"]: m for m in matches}
        parents = [p for p in e["parents"] if p["relation"] in RELATIONS]
        found = bool(parents) and all(
            by_name.get(p["id"], {}).get("verdict") in ("derived", "identical") for p in parents
        )
        relation_ok = direction_ok = None
        if parents and found:
            relation_ok = all(
                by_name[p["id"]]["relation"] == p["relation"]
                or (by_name[p["id"]]["verdict"] == "identical" and p["relation"] == "repackaged")
                for p in parents
            )
            if any(p["relation"] == "merge" for p in parents):
                relation_ok = relation_ok and all(
                    sorted(by_name[p["id"]]["parents"]) == sorted(q["id"] for q in parents)
                    for p in parents
                )
            evidence = e.get("direction_evidence") or ""
            if evidence and not evidence.startswith("none"):
                direction_ok = all(
                    by_name[p["id"]]["direction"] == "query_is_child" for p in parents
                )
        related_family = ancestors(manifest, e["id"])
        false_positives = [
            m["name"]
            for m in matches
            if m["verdict"] != "unrelated"
            and expected_verdict(manifest, e["id"], m["name"])[0] == "unrelated"
            and m["name"] not in related_family
        ]
        outcomes.append(
            QueryOutcome(
                id=e["id"],
                transformation=e["transformation"],
                parents=parents,
                found=found,
                relation_ok=relation_ok,
                direction_ok=direction_ok,
                false_positives=false_positives,
                matches=matches,
            )
        )
    return outcomes


def summarize(outcomes: list[QueryOutcome]) -> dict[str, Any]:
    """Recall, relation and direction accuracy per transformation and overall."""
    per: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for o in outcomes:
        row = per[o.transformation]
        row["queries"] += 1
        if o.parents:
            row["with_parent"] += 1
            row["found"] += int(o.found)
        if o.relation_ok is not None:
            row["relation_checked"] += 1
            row["relation_ok"] += int(o.relation_ok)
        if o.direction_ok is not None:
            row["direction_checked"] += 1
            row["direction_ok"] += int(o.direction_ok)
        row["false_positives"] += len(o.false_positives)
    total: dict[str, int] = defaultdict(int)
    for row in per.values():
        for k, v in row.items():
            total[k] += v
    return {"per_transformation": {k: dict(v) for k, v in per.items()}, "total": dict(total)}
