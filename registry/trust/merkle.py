"""RFC 9162 Merkle trees: hashing, proofs built from stored subtree hashes, proof verification.

Leaves hash as SHA-256(0x00 || data) and interior nodes as SHA-256(0x01 || left || right)
(RFC 9162 §2.1.1). Proofs are produced as lists of leaf *ranges* first; each range is the hash
of a run of complete, aligned subtrees (``(level, index)`` covers leaves
``[index * 2**level, (index + 1) * 2**level)``), so a store that keeps those subtree hashes
answers any proof with O(log n) reads in one batch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

from registry.errors import ConsistencyFailed, LogRangeInvalid, ProofInvalid

NodeKey = tuple[int, int]  # (level, index)
Range = tuple[int, int]  # leaves [start, end)


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def empty_root() -> bytes:
    """MTH of the empty tree: SHA-256 of the empty string."""
    return hashlib.sha256(b"").digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaves(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over already-hashed leaves (iterative, for in-memory trees and audits)."""
    if not leaf_hashes:
        return empty_root()
    level = list(leaf_hashes)
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])  # an unpaired right node is promoted, as MTH's split implies
        level = nxt
    return level[0]


# --- proofs as ranges -----------------------------------------------------------------------


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """PATH(index, D[0:size]) of RFC 9162 §2.1.3.1 as leaf ranges, leaf side first."""
    if not 0 <= index < size:
        raise LogRangeInvalid(
            f"leaf {index} is not in a tree of {size} leaves",
            hint="ask for an index below the tree size",
        )
    start, end, m = 0, size, index
    path: list[Range] = []
    while end - start > 1:
        k = _split(end - start)
        if m < k:
            path.append((start + k, end))
            end = start + k
        else:
            path.append((start, start + k))
            start, m = start + k, m - k
    return list(reversed(path))


def consistency_ranges(first: int, second: int) -> list[Range]:
    """PROOF(first, D[0:second]) of RFC 9162 §2.1.4.1 as leaf ranges."""
    if not 0 < first <= second:
        raise LogRangeInvalid(
            f"no consistency proof from size {first} to size {second}",
            hint="the first size must be at least 1 and at most the second",
        )
    if first == second:
        return []
    path: list[Range] = []
    start, end, m, complete = 0, second, first, True
    while True:
        n = end - start
        if m == n:
            if not complete:
                path.append((start, end))
            break
        k = _split(n)
        if m <= k:
            path.append((start + k, end))
            end = start + k
        else:
            path.append((start, start + k))
            start, m, complete = start + k, m - k, False
    return list(reversed(path))


def nodes_for(ranges: Iterable[Range]) -> set[NodeKey]:
    """The complete aligned subtrees whose hashes make up ``ranges``."""
    keys: set[NodeKey] = set()
    for start, end in ranges:
        while end > start:
            n = end - start
            p = n if n & (n - 1) == 0 else _split(n)
            level = p.bit_length() - 1
            keys.add((level, start >> level))
            start += p
    return keys


def range_hash(start: int, end: int, nodes: Mapping[NodeKey, bytes]) -> bytes:
    """MTH(D[start:end]) from complete-subtree hashes (right-leaning, as RFC 9162 splits)."""
    n = end - start
    if n & (n - 1) == 0:
        level = n.bit_length() - 1
        return nodes[(level, start >> level)]
    k = _split(n)
    return node_hash(range_hash(start, start + k, nodes), range_hash(start + k, end, nodes))


def resolve(
    ranges: Sequence[Range], fetch: Callable[[set[NodeKey]], Mapping[NodeKey, bytes]]
) -> list[bytes]:
    """Hashes for ``ranges`` with one call to ``fetch`` for every subtree hash they need."""
    nodes = fetch(nodes_for(ranges))
    return [range_hash(s, e, nodes) for s, e in ranges]


# --- verification (RFC 9162 §2.1.3.2 and §2.1.4.2) ------------------------------------------


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf`` (a leaf hash) is at ``index`` in the tree of ``size`` with ``root``.

    Raises :class:`ProofInvalid` naming why it does not hold.
    """
    if not 0 <= index < size:
        raise ProofInvalid(f"leaf index {index} is outside a tree of {size} leaves")
    # A one-leaf tree's proof is empty and its root is the leaf: without this check an empty
    # leaf "proves" itself against an empty root.
    if len(leaf) != 32 or len(root) != 32:
        raise ProofInvalid("the leaf hash and the root must be SHA-256 hashes (32 bytes)")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if len(p) != 32:
            raise ProofInvalid("an inclusion proof element is not a SHA-256 hash")
        if sn == 0:
            raise ProofInvalid("the inclusion proof is longer than the tree allows")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofInvalid("the inclusion proof is shorter than the tree needs")
    if r != root:
        raise ProofInvalid(f"leaf {index} does not lead to the root of the tree of size {size}")


def verify_consistency(
    first: int, second: int, proof: Sequence[bytes], first_root: bytes, second_root: bytes
) -> None:
    """Check that the tree of ``second`` leaves extends the tree of ``first`` leaves.

    Raises :class:`ConsistencyFailed` naming why it does not.
    """
    if first < 1 or second < first:
        raise ConsistencyFailed(f"no consistency between sizes {first} and {second}")
    if len(first_root) != 32 or len(second_root) != 32:
        raise ConsistencyFailed("both roots must be SHA-256 hashes (32 bytes)")
    if any(len(p) != 32 for p in proof):
        raise ConsistencyFailed("a consistency proof element is not a SHA-256 hash")
    if first == second:
        if proof:
            raise ConsistencyFailed("a proof between equal sizes must be empty")
        if first_root != second_root:
            raise ConsistencyFailed(f"two different roots for the same size {first}")
        return
    if not proof:
        raise ConsistencyFailed("the consistency proof is empty")
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ConsistencyFailed("the consistency proof is longer than the trees allow")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ConsistencyFailed("the consistency proof is shorter than the trees need")
    if fr != first_root:
        raise ConsistencyFailed(f"the proof does not lead to the old root (size {first})")
    if sr != second_root:
        raise ConsistencyFailed(f"the proof does not lead to the new root (size {second})")
