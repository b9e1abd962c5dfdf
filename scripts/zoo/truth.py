"""Ground-truth verdicts for any pair of zoo models, derived from ``manifest.json``.

Rules: ``identical`` = the same weights (same id, or equal ``weights_sha256``: a lossless
re-encoding); ``derived`` = one is an ancestor of the other through derivation edges;
``related`` = they share an ancestor, or their ancestries are joined by partial-sharing edges
(``shares-embeddings`` / ``shares-layers``: cousins, or two kin built around one model's
tensors), but neither descends from the other; ``unrelated`` otherwise
(different base seeds, or different architectures). Needs no torch.
"""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path

DERIVATIONS = frozenset({"finetune", "adapter", "quantized", "repackaged", "pruned", "merge"})
PARTIAL = frozenset({"shares-embeddings", "shares-layers"})


def load_manifest(path: str | Path) -> list[dict]:
    """Read a manifest file (or the ``manifest.json`` inside a zoo directory)."""
    p = Path(path)
    return json.loads((p / "manifest.json" if p.is_dir() else p).read_text())


def _index(manifest: list[dict]) -> dict[str, dict]:
    return {e["id"]: e for e in manifest}


def _path_down(entries: dict[str, dict], ancestor: str, descendant: str) -> list[str] | None:
    """Relations from ``ancestor`` down to ``descendant`` on a shortest derivation path."""
    queue: deque[tuple[str, list[str]]] = deque([(descendant, [])])
    seen = {descendant}
    while queue:
        node, rels = queue.popleft()
        if node == ancestor:
            return rels
        for p in entries[node]["parents"]:
            if p["relation"] in DERIVATIONS and p["id"] not in seen:
                seen.add(p["id"])
                queue.append((p["id"], [p["relation"], *rels]))
    return None


def ancestors(manifest: list[dict], model_id: str) -> set[str]:
    """The model and everything it derives from (derivation edges only)."""
    entries = _index(manifest)
    out, stack = {model_id}, [model_id]
    while stack:
        for p in entries[stack.pop()]["parents"]:
            if p["relation"] in DERIVATIONS and p["id"] not in out:
                out.add(p["id"])
                stack.append(p["id"])
    return out


def _partial_reach(manifest: list[dict], lineage: set[str]) -> dict[str, str]:
    """Models whose tensors ``lineage`` partly shares, with the partial relation."""
    entries = _index(manifest)
    reach: dict[str, str] = {}
    for node in lineage:
        for p in entries[node]["parents"]:
            if p["relation"] in PARTIAL:
                for a in ancestors(manifest, p["id"]):
                    reach.setdefault(a, p["relation"])
    return reach


def expected_verdict(
    manifest: list[dict], a_id: str, b_id: str
) -> tuple[str, str | None, str | None]:
    """Return ``(verdict, relation, direction)`` for models ``a_id`` and ``b_id``.

    ``relation`` is the chain of relations from ancestor to descendant joined by ``+``
    (``finetune``, ``repackaged+quantized``...) for derived and identical-by-derivation pairs,
    ``shares-embeddings`` for cousins, else ``None``. ``direction`` is ``"a->b"`` when ``a`` is
    the ancestor, ``"b->a"`` when ``b`` is, else ``None``. Raises ``KeyError`` for unknown ids.
    """
    entries = _index(manifest)
    ea, eb = entries[a_id], entries[b_id]
    if a_id == b_id:
        return ("identical", None, None)
    same = ea.get("weights_sha256") is not None and ea.get("weights_sha256") == eb.get(
        "weights_sha256"
    )
    for anc, desc, direction in ((a_id, b_id, "a->b"), (b_id, a_id, "b->a")):
        rels = _path_down(entries, anc, desc)
        if rels is not None:
            return ("identical" if same else "derived", "+".join(rels), direction)
    if same:
        return ("identical", None, None)
    anc_a, anc_b = ancestors(manifest, a_id), ancestors(manifest, b_id)
    if anc_a & anc_b:
        return ("related", None, None)
    reach_a, reach_b = _partial_reach(manifest, anc_a), _partial_reach(manifest, anc_b)
    for reach, other in ((reach_a, anc_b), (reach_b, anc_a)):
        shared = sorted(set(reach) & other)
        if shared:
            return ("related", reach[shared[0]], None)
    common = sorted(set(reach_a) & set(reach_b))
    if common:  # kin of one model: both built around its tensors
        rels = {reach_a[common[0]], reach_b[common[0]]}
        return (
            "related",
            "shares-layers" if rels == {"shares-layers"} else "shares-embeddings",
            None,
        )
    return ("unrelated", None, None)
