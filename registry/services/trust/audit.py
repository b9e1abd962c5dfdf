"""Audit: re-derive every log leaf from the stored records and recompute the whole tree.

Reports every mismatch rather than stopping at the first: a record changed after it was logged
(``record_changed``), a leaf's stored hash that is not the hash of its data
(``leaf_hash_changed``), a missing or out-of-place leaf (``leaf_missing``), a record that should
have been logged and was not (``unlogged_record``) and stored subtree hashes that disagree with
the recomputed tree (``node_changed``, ``node_missing``), a lineage edge whose stored relation,
source or status is not the fold of its logged ``lineage.status`` events
(``edge_state_changed``; see ``registry.services.lineage.edge_log``) and a materialised safeguard
status that differs from the one recomputed from the records (``safeguard_status_changed``),
and a derived column that is not what its source data give (``derived_changed``: see
``registry.services.trust.derived``).
Comparing the recomputed root with a checkpoint someone saw earlier is the caller's part (the
CLI does it with its saved checkpoint).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from registry.db.models import (
    CORRECTION_ACTIONS as ACTIONS,
)
from registry.db.models import (
    Advisory,
    AttachedSignature,
    Correction,
    EvalResult,
    LineageEdge,
    LogLeaf,
    LogNode,
    SafeguardDirty,
    SafeguardStatus,
    SignedStatement,
    SigningKey,
    Variant,
)
from registry.services.lineage import edge_log
from registry.services.safeguards import status as safeguards
from registry.services.safeguards.policy import SafeguardPolicy
from registry.services.trust.derived import check_derived
from registry.services.trust.log_records import RecordMissing, leaf_data
from registry.trust import merkle
from schemas.trust import AuditProblem, AuditReport

_BATCH = 5000
_RELATION_EVENTS = ("lineage.declared", "lineage.claimed")


def _leaves(
    session: Session, problems: list[AuditProblem], edge_states: dict[int, dict[str, str]]
) -> tuple[list[bytes], set[tuple[str, int]]]:
    """Check every leaf against its record; fills ``edge_states`` with each edge's folded
    ``lineage.status`` events (the last one wins)."""
    hashes: list[bytes] = []
    logged: set[tuple[str, int]] = set()
    expected = 0
    query = select(LogLeaf).order_by(col(LogLeaf.leaf_index))
    for leaf in session.exec(query.execution_options(yield_per=_BATCH)):
        if leaf.leaf_index != expected:
            problems.append(
                AuditProblem(
                    index=expected,
                    kind="leaf_missing",
                    message=f"leaves {expected}..{leaf.leaf_index - 1} are missing",
                )
            )
            expected = leaf.leaf_index
        data = bytes(leaf.data)
        digest = merkle.leaf_hash(data)
        if digest != bytes(leaf.leaf_hash):
            problems.append(
                AuditProblem(
                    index=leaf.leaf_index,
                    kind="leaf_hash_changed",
                    message=f"leaf {leaf.leaf_index}'s stored hash is not the hash of its data",
                )
            )
        try:
            event = None
            if leaf.kind == edge_log.KIND:
                event = edge_log.state_of_leaf(data)
                edge_states[leaf.record_id] = event
            elif leaf.kind in _RELATION_EVENTS:
                # the relation declared then: a retracted edge declared again may have another
                # one, and the edge's current relation is its lineage.status events' to check
                event = {"relation": str(json.loads(data)["record"]["relation"])}
            version = int(json.loads(data)["v"])
            derived = leaf_data(
                session, leaf.kind, leaf.record_id, leaf.logged_at, event, version=version
            )
        except (ValueError, TypeError):
            problems.append(
                AuditProblem(
                    index=leaf.leaf_index,
                    kind="record_changed",
                    message=f"leaf {leaf.leaf_index} ({leaf.kind}) does not hold a valid event",
                )
            )
        except RecordMissing as exc:
            problems.append(
                AuditProblem(
                    index=leaf.leaf_index,
                    kind="record_missing",
                    message=f"leaf {leaf.leaf_index} ({leaf.kind}): {exc} no longer exists",
                )
            )
        except KeyError:
            problems.append(
                AuditProblem(
                    index=leaf.leaf_index,
                    kind="leaf_kind_unknown",
                    message=f"leaf {leaf.leaf_index} has unknown kind {leaf.kind!r}",
                )
            )
        else:
            if derived != data:
                problems.append(
                    AuditProblem(
                        index=leaf.leaf_index,
                        kind="record_changed",
                        message=f"leaf {leaf.leaf_index} ({leaf.kind} #{leaf.record_id}) does "
                        "not match the stored record any more",
                    )
                )
        hashes.append(digest)
        logged.add((leaf.kind, leaf.record_id))
        expected += 1
    return hashes, logged


def _ids(session: Session, model: type, *where: Any) -> list[int]:
    return [int(i) for i in session.execute(sa_select(model.id).where(*where)).scalars()]  # type: ignore[attr-defined]


def _unlogged(session: Session, logged: set[tuple[str, int]], problems: list[AuditProblem]) -> None:
    checks: list[tuple[str, list[int]]] = [
        ("variant.registered", _ids(session, Variant, col(Variant.digest).is_not(None))),
        ("key.added", _ids(session, SigningKey)),
        ("key.revoked", _ids(session, SigningKey, col(SigningKey.revoked_at).is_not(None))),
        ("signature.attached", _ids(session, AttachedSignature)),
        ("lineage.claimed", _ids(session, SignedStatement, SignedStatement.kind == "lineage")),
        ("lineage.declared", _declared_unclaimed(session)),
        ("evaluation.added", _ids(session, EvalResult)),
        ("advisory.published", _ids(session, Advisory)),
        *((action, _ids(session, Correction, Correction.action == action)) for action in ACTIONS),
    ]
    for kind, ids in checks:
        for record_id in ids:
            if record_id is not None and (kind, record_id) not in logged:
                problems.append(
                    AuditProblem(
                        kind="unlogged_record",
                        message=f"{kind} #{record_id} is stored but not in the log",
                    )
                )


def _declared_unclaimed(session: Session) -> list[int]:
    """Declared edges not made declared by a signed claim: their registration logged them."""
    claimed = select(SignedStatement.edge_id).where(col(SignedStatement.edge_id).is_not(None))
    return _ids(
        session,
        LineageEdge,
        LineageEdge.source == "declared",
        col(LineageEdge.id).not_in(claimed),
    )


def _edges(
    session: Session, states: dict[int, dict[str, str]], problems: list[AuditProblem]
) -> None:
    """Each stored edge's relation, source and status must be the fold of its logged events."""
    for edge in session.exec(select(LineageEdge).order_by(col(LineageEdge.id))):
        assert edge.id is not None
        child, parent = session.get(Variant, edge.child_id), session.get(Variant, edge.parent_id)
        name = f"edge #{edge.id} {child.ref if child else '?'} -> {parent.ref if parent else '?'}"
        logged = states.get(edge.id)
        now = edge_log.edge_state(session, edge)
        if logged is None:
            problems.append(
                AuditProblem(
                    kind="unlogged_record",
                    message=f"{edge_log.KIND} of {name} ({now['source']}, {now['status']}) "
                    "is stored but not in the log",
                )
            )
        elif fields := edge_log.differs(logged, now):
            changed = ", ".join(f"{f} {now[f]} (logged {logged[f]})" for f in fields)
            problems.append(
                AuditProblem(
                    kind="edge_state_changed",
                    message=f"{name} differs from its logged events: {changed}",
                )
            )


def _nodes(session: Session, hashes: list[bytes], problems: list[AuditProblem]) -> int:
    """Recompute every complete subtree and compare with the stored ones; returns the count."""
    stored = {
        (n.level, n.node_index): bytes(n.hash)
        for n in session.exec(select(LogNode).execution_options(yield_per=_BATCH))
    }
    level, current, checked = 0, hashes, 0
    while current:
        for i, digest in enumerate(current):
            checked += 1
            found = stored.pop((level, i), None)
            if found is None:
                problems.append(
                    AuditProblem(kind="node_missing", message=f"subtree ({level}, {i}) is missing")
                )
            elif found != digest:
                problems.append(
                    AuditProblem(
                        index=i << level,
                        kind="node_changed",
                        message=f"stored subtree ({level}, {i}) covering leaves from {i << level} "
                        "differs from the recomputed one",
                    )
                )
        current = [
            merkle.node_hash(current[i], current[i + 1]) for i in range(0, len(current) - 1, 2)
        ]
        level += 1
    for key in sorted(stored):
        problems.append(
            AuditProblem(kind="node_extra", message=f"subtree {key} is not in the tree")
        )
    return checked


def _safeguards(session: Session, policy: SafeguardPolicy, problems: list[AuditProblem]) -> None:
    """Each materialised status that reads trust (current policy, not queued for recomputation)
    must equal the status recomputed from the records."""
    expected = safeguards.recompute_statuses(session, policy)
    dirty = set(session.exec(select(SafeguardDirty.variant_id)).all())
    rows = {r.variant_id: r for r in session.exec(select(SafeguardStatus))}
    for vid, (status, reasons) in sorted(expected.items()):
        if vid in dirty:
            continue
        row = rows.get(vid)
        variant = session.get(Variant, vid)
        name = variant.ref if variant is not None else f"#{vid}"
        if row is None:
            problems.append(
                AuditProblem(
                    kind="safeguard_status_changed",
                    message=f"safeguard status of {name} is missing (recomputed: {status})",
                )
            )
        elif row.policy_digest == policy.digest and row.status != status:
            why = f" ({reasons[0]})" if reasons else ""
            problems.append(
                AuditProblem(
                    kind="safeguard_status_changed",
                    message=f"safeguard status of {name} is {row.status} in the database, "
                    f"recomputed {status}{why}",
                )
            )


def audit_log(session: Session, policy: SafeguardPolicy | None = None) -> AuditReport:
    """Re-derive and recompute the whole log; ``ok`` is False with every problem listed. With
    ``policy``, also recompute every materialised safeguard status."""
    problems: list[AuditProblem] = []
    edge_states: dict[int, dict[str, str]] = {}
    hashes, logged = _leaves(session, problems, edge_states)
    _unlogged(session, logged, problems)
    _edges(session, edge_states, problems)
    check_derived(session, problems)
    if policy is not None:
        _safeguards(session, policy, problems)
    nodes = _nodes(session, hashes, problems)
    root = merkle.root_from_leaves(hashes)
    return AuditReport(
        ok=not problems,
        tree_size=len(hashes),
        root_hash=root.hex(),
        leaves_checked=len(hashes),
        nodes_checked=nodes,
        problems=problems,
    )
