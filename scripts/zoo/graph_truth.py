"""Score a registry's lineage edges against a zoo's true graph (no torch).

Models with identical weights (equal ``weights_sha256``) count as one node, so an edge between
two copies is right in either direction. A detected edge ``child -> parent`` is *exact* when the
truth has it, and *false* when ``parent`` is not a true ancestor of ``child`` (a sibling, kin,
an unrelated model, or the edge reversed). ``register_without_lineage`` registers models in a
given order with no declared parents and returns the edges the registry recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .truth import DERIVATIONS, ancestors


@dataclass
class EdgeScore:
    true_edges: int = 0
    detected: int = 0
    false_edges: list[str] = field(default_factory=list)  # parent not a true ancestor
    exact: int = 0
    found: set[tuple[str, str]] = field(default_factory=set)  # true edges detected
    missed: list[str] = field(default_factory=list)
    relation_checked: int = 0
    relation_ok: int = 0
    wrong_relation: list[str] = field(default_factory=list)
    direction_checked: int = 0  # edges between a model and a true ancestor or descendant
    direction_ok: int = 0


def identity_classes(manifest: list[dict]) -> dict[str, str]:
    """Each model's identity class: the first model with the same weights."""
    first: dict[str, str] = {}
    out = {}
    for e in manifest:
        sha = e.get("weights_sha256")
        out[e["id"]] = first.setdefault(sha, e["id"]) if sha else e["id"]
    return out


def true_edges(manifest: list[dict]) -> dict[tuple[str, str], str]:
    """``(child class, parent class) -> relation`` for every derivation edge."""
    cls = identity_classes(manifest)
    out = {}
    for e in manifest:
        for p in e["parents"]:
            if p["relation"] in DERIVATIONS and cls[e["id"]] != cls[p["id"]]:
                out[(cls[e["id"]], cls[p["id"]])] = p["relation"]
    return out


def score_edges(manifest: list[dict], edges: list[tuple[str, str, str]]) -> EdgeScore:
    """Score ``(child, parent, relation)`` edges detected over ``manifest``'s models."""
    cls = identity_classes(manifest)
    anc = {e["id"]: {cls[x] for x in ancestors(manifest, e["id"])} for e in manifest}
    truth = true_edges(manifest)
    s = EdgeScore(true_edges=len(truth))
    for child, parent, relation in edges:
        c, p = cls[child], cls[parent]
        s.detected += 1
        if c == p:
            s.exact += 1  # two copies of the same weights: either way is right
            continue
        if (c, p) in truth:
            s.exact += 1
            s.found.add((c, p))
            s.relation_checked += 1
            if relation == truth[(c, p)]:
                s.relation_ok += 1
            else:
                s.wrong_relation.append(f"`{child} -> {parent}` {relation}, truth {truth[(c, p)]}")
        if p in anc[child]:
            s.direction_checked += 1
            s.direction_ok += 1
        elif c in anc[parent]:
            s.direction_checked += 1
            s.false_edges.append(f"`{child} -> {parent}` ({relation}): reversed")
        else:
            s.false_edges.append(f"`{child} -> {parent}` ({relation})")
    s.missed = [f"`{c} -> {p}` ({r})" for (c, p), r in truth.items() if (c, p) not in s.found]
    return s


def register_without_lineage(session, order: list[str], prints: dict) -> list[tuple[str, str, str]]:
    """Register ``order``'s models (``prints[id][0]`` fingerprints) as ``zoo/<id>`` with no
    declared parents; return the recorded edges as ``(child, parent, relation)`` ids."""
    from sqlmodel import select

    from registry.db.models import LineageEdge, Variant
    from registry.services.variants import register_variant
    from schemas import VariantCreate

    for mid in order:
        register_variant(session, VariantCreate(name=f"zoo/{mid}", fingerprint=prints[mid][0]))
    names = {v.id: v.name.removeprefix("zoo/") for v in session.exec(select(Variant))}
    return [
        (names[x.child_id], names[x.parent_id], x.relation)
        for x in session.exec(select(LineageEdge))
    ]
