"""RFC 9162 hashing and proofs, checked against a tiny independent reference implementation."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.errors import ConsistencyFailed, LogRangeInvalid, ProofInvalid
from registry.trust import merkle


# --- reference: RFC 9162 §2.1.1-2.1.4, written straight from the text -----------------------
def ref_mth(d: list[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:])).digest()


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return ref_path(m, d[:k]) + [ref_mth(d[k:])]
    return ref_path(m - k, d[k:]) + [ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return ref_subproof(m, d[:k], b) + [ref_mth(d[k:])]
    return ref_subproof(m - k, d[k:], False) + [ref_mth(d[:k])]


def data(n: int) -> list[bytes]:
    return [f"leaf {i}".encode() for i in range(n)]


def stored_nodes(leaves: list[bytes]) -> dict[tuple[int, int], bytes]:
    """Complete aligned subtrees, as the log stores them."""
    nodes = {(0, i): merkle.leaf_hash(x) for i, x in enumerate(leaves)}
    level, width = 0, len(leaves)
    while width > 1:
        for i in range(width // 2):
            nodes[(level + 1, i)] = merkle.node_hash(
                nodes[(level, 2 * i)], nodes[(level, 2 * i + 1)]
            )
        level, width = level + 1, width // 2
    return nodes


def fetcher(leaves: list[bytes]):  # type: ignore[no-untyped-def]
    nodes = stored_nodes(leaves)
    return lambda keys: {k: nodes[k] for k in keys}


def inclusion(leaves: list[bytes], index: int, size: int) -> list[bytes]:
    return merkle.resolve(merkle.inclusion_ranges(index, size), fetcher(leaves))


def consistency(leaves: list[bytes], first: int, second: int) -> list[bytes]:
    return merkle.resolve(merkle.consistency_ranges(first, second), fetcher(leaves))


KNOWN_ROOTS = {  # hex MTH of b"leaf 0".."leaf n-1", computed once by the reference above
    n: ref_mth(data(n)).hex() for n in range(0, 9)
}


@pytest.mark.parametrize("n", range(1, 9))
def test_roots_of_one_to_eight_leaves(n: int) -> None:
    leaves = data(n)
    hashes = [merkle.leaf_hash(x) for x in leaves]
    assert merkle.root_from_leaves(hashes).hex() == KNOWN_ROOTS[n]
    assert merkle.resolve([(0, n)], fetcher(leaves))[0] == ref_mth(leaves)


def test_rfc_6962_test_vector_root() -> None:
    # the eight-leaf vector from certificate-transparency-go's merkle tests
    inputs = [
        bytes.fromhex(h)
        for h in (
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        )
    ]
    root = merkle.root_from_leaves([merkle.leaf_hash(x) for x in inputs])
    assert root.hex() == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    assert merkle.empty_root().hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


@pytest.mark.parametrize("size", range(1, 9))
def test_inclusion_proofs_match_the_reference_and_verify(size: int) -> None:
    leaves = data(size)
    root = ref_mth(leaves)
    for index in range(size):
        proof = inclusion(leaves, index, size)
        assert proof == ref_path(index, leaves)
        merkle.verify_inclusion(index, size, merkle.leaf_hash(leaves[index]), proof, root)


@pytest.mark.parametrize("second", range(1, 9))
def test_consistency_proofs_match_the_reference_and_verify(second: int) -> None:
    leaves = data(second)
    for first in range(1, second + 1):
        proof = consistency(leaves, first, second)
        assert proof == (ref_subproof(first, leaves, True) if first < second else [])
        merkle.verify_consistency(first, second, proof, ref_mth(leaves[:first]), ref_mth(leaves))


def _flip(h: bytes, bit: int = 0) -> bytes:
    return bytes([h[0] ^ (1 << bit)]) + h[1:]


def inclusion_mutations(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes):  # type: ignore[no-untyped-def]
    # a changed size is checked against the real root of that size: the proof of one tree
    # presented for a checkpoint of another
    everything = data(2 * size + 1)
    yield "index+1", (index + 1, size, leaf, proof, root)
    yield "index-1", (index - 1, size, leaf, proof, root)
    yield "size+1", (index, size + 1, leaf, proof, ref_mth(everything[: size + 1]))
    yield "size-1", (index, size - 1, leaf, proof, ref_mth(everything[: size - 1]))
    yield "size*2", (index, size * 2, leaf, proof, ref_mth(everything[: size * 2]))
    yield "root of size+1", (index, size, leaf, proof, ref_mth(everything[: size + 1]))
    yield "wrong leaf", (index, size, _flip(leaf), proof, root)
    yield "wrong root", (index, size, leaf, proof, _flip(root))
    yield "leaf and root swapped", (index, size, root, proof, leaf)
    yield "empty proof", (index, size, leaf, [], root)
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = _flip(flipped[i], 7)
        yield f"element {i} flipped", (index, size, leaf, flipped, root)
        yield f"element {i} removed", (index, size, leaf, proof[:i] + proof[i + 1 :], root)
        yield (
            f"element {i} truncated",
            (index, size, leaf, proof[:i] + [proof[i][:31]] + proof[i + 1 :], root),
        )
    for i in range(len(proof) + 1):
        yield f"inserted at {i}", (index, size, leaf, proof[:i] + [leaf] + proof[i:], root)
        yield f"root inserted at {i}", (index, size, leaf, proof[:i] + [root] + proof[i:], root)
    if len(proof) > 1:
        yield "elements swapped", (index, size, leaf, [proof[1], proof[0], *proof[2:]], root)


@pytest.mark.parametrize("size", [2, 3, 5, 7, 8, 13])
def test_every_mutated_inclusion_proof_is_rejected(size: int) -> None:
    leaves = data(size)
    root = ref_mth(leaves)
    for index in range(size):
        leaf = merkle.leaf_hash(leaves[index])
        proof = inclusion(leaves, index, size)
        merkle.verify_inclusion(index, size, leaf, proof, root)
        for name, args in inclusion_mutations(index, size, leaf, proof, root):
            if name == "empty proof" and not proof:
                continue
            with pytest.raises(ProofInvalid):
                merkle.verify_inclusion(*args)
                pytest.fail(f"accepted a proof with {name} (index {index}, size {size})")


def consistency_mutations(first: int, second: int, proof: list[bytes], r1: bytes, r2: bytes):  # type: ignore[no-untyped-def]
    # changed sizes come with the real roots of those sizes (see inclusion_mutations)
    everything = data(second + 2)
    yield "first+1", (first + 1, second, proof, ref_mth(everything[: first + 1]), r2)
    yield "first-1", (first - 1, second, proof, ref_mth(everything[: first - 1]), r2)
    yield "second+1", (first, second + 1, proof, r1, ref_mth(everything[: second + 1]))
    yield "second-1", (first, second - 1, proof, r1, ref_mth(everything[: second - 1]))
    yield "wrong old root", (first, second, proof, _flip(r1), r2)
    yield "wrong new root", (first, second, proof, r1, _flip(r2))
    yield "roots swapped", (first, second, proof, r2, r1)
    yield "empty proof", (first, second, [], r1, r2)
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = _flip(flipped[i], 3)
        yield f"element {i} flipped", (first, second, flipped, r1, r2)
        yield f"element {i} removed", (first, second, proof[:i] + proof[i + 1 :], r1, r2)
    for i in range(len(proof) + 1):
        yield f"inserted at {i}", (first, second, proof[:i] + [r1] + proof[i:], r1, r2)


@pytest.mark.parametrize("second", [2, 3, 4, 5, 7, 8, 9, 16, 17])
def test_every_mutated_consistency_proof_is_rejected(second: int) -> None:
    leaves = data(second + 1)
    for first in range(1, second):
        r1, r2 = ref_mth(leaves[:first]), ref_mth(leaves[:second])
        proof = consistency(leaves, first, second)
        merkle.verify_consistency(first, second, proof, r1, r2)
        for name, args in consistency_mutations(first, second, proof, r1, r2):
            if args[0] == args[1] and args[3] == args[4] and not args[2]:
                continue  # equal sizes with equal roots and no proof is genuinely consistent
            with pytest.raises(ConsistencyFailed):
                merkle.verify_consistency(*args)
                pytest.fail(f"accepted a proof with {name} ({first} -> {second})")


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=1, max_value=300), st.data())
def test_consistency_holds_for_random_sizes(second: int, draw: st.DataObject) -> None:
    first = draw.draw(st.integers(min_value=1, max_value=second))
    leaves = data(second)
    proof = consistency(leaves, first, second)
    r1, r2 = ref_mth(leaves[:first]), ref_mth(leaves)
    merkle.verify_consistency(first, second, proof, r1, r2)
    assert len(proof) <= 2 * second.bit_length()
    if first < second:
        assert proof == ref_subproof(first, leaves, True)
        with pytest.raises(ConsistencyFailed):
            merkle.verify_consistency(
                first, second, proof, r1, ref_mth(leaves[: second - 1] + [b"x"])
            )


def test_out_of_range_requests_are_refused() -> None:
    with pytest.raises(LogRangeInvalid):
        merkle.inclusion_ranges(3, 3)
    with pytest.raises(LogRangeInvalid):
        merkle.consistency_ranges(0, 3)
    with pytest.raises(LogRangeInvalid):
        merkle.consistency_ranges(4, 3)


@pytest.mark.parametrize(
    ("root_ok", "leaf_ok"),
    [(True, False), (False, True), (False, False)],
)
def test_single_leaf_probes_with_wrong_sized_hashes_are_rejected(
    root_ok: bool, leaf_ok: bool
) -> None:
    """The single-entry probes transparency-dev's verifier is tested with: in a one-leaf tree
    the proof is empty and the root equals the leaf, so an empty leaf and an empty root must
    not verify each other."""
    good = merkle.leaf_hash(b"data")
    merkle.verify_inclusion(0, 1, good, [], good)
    leaf = good if leaf_ok else b""
    root = good if root_ok else b""
    with pytest.raises(ProofInvalid):
        merkle.verify_inclusion(0, 1, leaf, [], root)


def test_consistency_with_empty_roots_is_rejected() -> None:
    with pytest.raises(ConsistencyFailed):
        merkle.verify_consistency(1, 1, [], b"", b"")
