"""Detected edges are re-pointed when a better parent is registered later, and every move is a
logged event the audit accounts for.

Models of the committed zoos, registered with no declared lineage in orders where the parent
comes last: the edges first recorded between its derivatives (siblings taken for parent and
child) move to it, keep their ids, and the transparency log holds each state they had.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from registry.db.models import LineageEdge, LogLeaf, Variant
from registry.services.trust.audit import audit_log
from registry.services.variants import register_variant
from schemas import VariantCreate
from scripts.zoo.evaluate import fingerprint_with_sketch

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REALZOO = FIXTURES / "realzoo"


@cache
def _fingerprint(path: Path):  # type: ignore[no-untyped-def]
    return fingerprint_with_sketch(path)[0]


def _register(session: Session, zoo: Path, *names: str) -> None:
    for name in names:
        register_variant(
            session, VariantCreate(name=f"z/{name}", fingerprint=_fingerprint(zoo / name))
        )


def _parents(session: Session) -> dict[str, str]:
    names = {v.id: v.name.removeprefix("z/") for v in session.exec(select(Variant))}
    return {names[e.child_id]: names[e.parent_id] for e in session.exec(select(LineageEdge))}


def test_an_edge_moved_to_a_later_parent_is_logged_and_the_audit_holds(session: Session) -> None:
    """Two fine-tunes registered first are joined to each other by registration order; their
    base, registered last, takes both: the first edge is re-pointed (same id), and its logged
    events record where it pointed before and after."""
    _register(session, FIXTURES / "zoo", "llama-b0-ft", "llama-b0-ft-sibling", "llama-b0")
    assert _parents(session) == {"llama-b0-ft-sibling": "llama-b0", "llama-b0-ft": "llama-b0"}
    first = session.exec(select(LineageEdge).order_by(col(LineageEdge.id))).first()
    assert first is not None
    events = [
        json.loads(bytes(leaf.data))["record"]
        for leaf in session.exec(
            select(LogLeaf)
            .where(LogLeaf.kind == "lineage.status", LogLeaf.record_id == first.id)
            .order_by(col(LogLeaf.leaf_index))
        )
    ]
    assert [e["parent"] for e in events] == [events[0]["parent"], "z/llama-b0@main"]
    assert events[0]["parent"] != "z/llama-b0@main"
    report = audit_log(session)
    assert report.ok, [p.message for p in report.problems]


@pytest.mark.skipif(not (REALZOO / "manifest.json").exists(), reason="no fixture zoo")
@pytest.mark.parametrize(
    "order",
    [
        ("llama-b0-onnx-qop", "llama-b0-onnx-qdyn", "llama-b0"),
        ("llama-b0-onnx-qdyn", "llama-b0", "llama-b0-onnx-qop"),
    ],
)
def test_quantized_copies_with_equal_values_are_children_of_their_float_parent(
    session: Session, order: tuple[str, ...]
) -> None:
    """ONNX dynamic and static quantization give the same int8 weights: as likely siblings as
    copies of each other, so once their float parent is here both are its children."""
    _register(session, REALZOO, *(f"{n}.onnx" if "onnx" in n else n for n in order))
    assert _parents(session) == {
        "llama-b0-onnx-qop.onnx": "llama-b0",
        "llama-b0-onnx-qdyn.onnx": "llama-b0",
    }


@pytest.mark.skipif(not (REALZOO / "manifest.json").exists(), reason="no fixture zoo")
def test_a_quantized_copy_joins_its_base_not_a_fine_tune_of_it(session: Session) -> None:
    """A fine-tune and its base give no direction between them, but the base's quantized copy
    is three times closer to the base than to the fine-tune: it is the base's child."""
    _register(session, REALZOO, "qwen2-b0-ft12-bf16", "qwen2-b0", "qwen2-b0-gguf-q8_0.gguf")
    assert _parents(session)["qwen2-b0-gguf-q8_0.gguf"] == "qwen2-b0"


@pytest.mark.skipif(not (REALZOO / "manifest.json").exists(), reason="no fixture zoo")
@pytest.mark.parametrize("arch", ["llama", "bert"])
@pytest.mark.parametrize("trim_first", [False, True])
def test_a_trimmed_vocabulary_is_found_by_its_rows_and_joined_to_its_parent(
    session: Session, arch: str, trim_first: bool
) -> None:
    """Trimming renumbers the token ids, so the trimmed model's retrieval code is as far from
    its parent's as an unrelated model's; its anchor rows, indexed by content, find it."""
    names = [f"{arch}-b0-trim", f"{arch}-b0"]
    _register(session, REALZOO, *(names if trim_first else names[::-1]))
    assert _parents(session) == {f"{arch}-b0-trim": f"{arch}-b0"}
    assert audit_log(session).ok


@pytest.mark.skipif(not (REALZOO / "manifest.json").exists(), reason="no fixture zoo")
def test_a_quantized_copy_of_the_full_vocabulary_is_no_child_of_the_trimmed_one(
    session: Session,
) -> None:
    """The quantized copy holds the trimmed model's rows under other ids: a sibling, so until
    their common parent is registered it is joined to neither."""
    _register(session, REALZOO, "qwen2-b0-trim", "qwen2-b0-gguf-q8_0.gguf")
    assert _parents(session) == {}
    _register(session, REALZOO, "qwen2-b0")
    assert _parents(session) == {"qwen2-b0-trim": "qwen2-b0", "qwen2-b0-gguf-q8_0.gguf": "qwen2-b0"}


def test_a_quantized_copy_is_no_child_of_a_model_with_rows_appended() -> None:
    """The base's Q8_0 copy against the base with vocabulary rows appended: quantizing keeps
    the vocabulary, so the copy (without those rows) is the extended model's sibling."""
    from registry.weights.compare import compare_sketches

    zoo = FIXTURES / "zoo"
    quantized = fingerprint_with_sketch(zoo / "llama-b0-gguf-q8_0.gguf")[1]
    extended = fingerprint_with_sketch(zoo / "llama-b0-vocab-ext")[1]
    base = fingerprint_with_sketch(zoo / "llama-b0")[1]
    assert compare_sketches(quantized, extended).verdict == "related"
    assert compare_sketches(quantized, base).verdict == "derived"


def test_a_relative_of_a_copy_moves_to_the_original_when_it_arrives(session: Session) -> None:
    """A model with vocabulary rows appended is first joined to the base's bf16 copy (more rows:
    the child). The base, registered last, is the copy's parent by structure and matches the
    extended model as well as the copy does: the base is the extended model's ancestor either
    way, so the edge moves to it."""
    _register(session, FIXTURES / "zoo", "llama-b0-bf16", "llama-b0-vocab-ext", "llama-b0")
    assert _parents(session) == {"llama-b0-bf16": "llama-b0", "llama-b0-vocab-ext": "llama-b0"}
