"""`identify` on the committed zoo: every derivative's parents, relation and direction.

The zoo holds small models really trained from different seeds and derivatives of them (see
tests/fixtures/zoo/README.md). Each model is registered with its declared lineage, then its own
files are identified against the registry with itself left out. One test per database, since
registering the zoo is the expensive part.
"""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from scripts.zoo.evaluate import RELATIONS, identify_zoo, register_zoo, summarize
from scripts.zoo.truth import load_manifest

ZOO = Path(__file__).resolve().parents[1] / "fixtures" / "zoo"
# Every derivative is in scope: an orthogonal rotation of the whole residual stream after
# folding the norm gains (obfuscated-rotated) is recognised through the anchor-embedding views.
OUT_OF_SCOPE: set[str] = set()


def test_identify_traces_every_zoo_derivative(session: Session) -> None:
    outcomes = identify_zoo(session, ZOO, register_zoo(session, ZOO))
    by_id = {o.id: o for o in outcomes}

    missed = [
        (o.id, o.matches[:3])
        for o in outcomes
        if o.parents and not o.found and o.transformation not in OUT_OF_SCOPE
    ]
    assert missed == []
    assert [(o.id, o.parents, o.matches[:2]) for o in outcomes if o.relation_ok is False] == []
    assert [(o.id, o.matches[:2]) for o in outcomes if o.direction_ok is False] == []
    # no independently trained model is ever matched to another family
    assert [(o.id, o.false_positives) for o in outcomes if o.false_positives] == []

    # the checks above ran over every kind of derivative the zoo has
    manifest = load_manifest(ZOO)
    derivatives = {
        e["transformation"]
        for e in manifest
        if any(p["relation"] in RELATIONS for p in e["parents"])
    }
    assert derivatives - {o.transformation for o in outcomes if o.found} == OUT_OF_SCOPE
    total = summarize(outcomes)["total"]
    assert total["with_parent"] >= 40 and total["direction_checked"] >= 25

    # merges name both parents; siblings and cousins are related, not parents
    for merge in ("llama-b0-merge-linear", "llama-b0-merge-ties", "bert-b0-merge-ties"):
        family = merge.split("-merge")[0]
        parents = {m["name"] for m in by_id[merge].matches if m["relation"] == "merge"}
        assert parents == {f"{family}-ft", f"{family}-ft-sibling"}
    sibling = {m["name"]: m for m in by_id["llama-b0-ft"].matches}["llama-b0-ft-sibling"]
    assert sibling["verdict"] == "related"
    cousin = {m["name"]: m for m in by_id["llama-c0"].matches}.get("llama-b0")
    assert cousin is not None and cousin["verdict"] == "related"
