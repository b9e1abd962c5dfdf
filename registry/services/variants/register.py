"""Registering variants and reading them back.

A registered ``name@revision`` is immutable, as on a package index: registering the same digest
again changes nothing, a different digest is refused. A registration is one transaction, so a
failure leaves nothing behind.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert
from sqlmodel import Session, col, select

from registry.db.engine import transaction
from registry.db.lineage_queries import is_ancestor_or_self
from registry.db.models import (
    LineageEdge,
    Tensor,
    Variant,
    VariantAdapter,
    VariantFile,
    VariantSketch,
    utcnow,
)
from registry.errors import (
    InvalidInput,
    LineageCycle,
    LineageNeedsDeclare,
    RevisionImmutable,
    VariantNotFound,
)
from registry.names import (
    VariantRef,
    declared_parents,
    validate_name,
    validate_revision,
)
from registry.services.lineage.edge_log import log_edge_states, retraction_reasons
from registry.services.trust.keys import namespace_row
from registry.services.trust.signatures import (
    attached_signatures,
    check_reposted_statement,
    record_registration,
    registration_index,
    signature_info,
)
from registry.services.variants.resolve import latest_registered
from registry.services.webhooks.events import variant_added
from registry.weights.validation import check_fingerprint
from schemas import (
    CardMarkers,
    FileDigest,
    LineageEdgePublic,
    VariantCreate,
    VariantPublic,
)
from schemas.variants import LEGACY_CARD_CONFIG_KEY

CHILDREN_SHOWN = 100


def find_variant(session: Session, ref: VariantRef) -> Variant | None:
    return session.exec(
        select(Variant).where(Variant.name == ref.name, Variant.revision == ref.revision)
    ).first()


def get_variant(session: Session, ref: VariantRef) -> Variant:
    """The variant at ``ref`` (without an explicit revision: ``main`` when registered, else the
    latest registered revision); raises :class:`VariantNotFound`."""
    return resolve_variant(session, ref)[0]


def resolve_variant(session: Session, ref: VariantRef) -> tuple[Variant, str | None]:
    """``(variant, note)``: as :func:`get_variant`, with a note saying which revision a name
    without one resolved to when it is not ``main``."""
    variant = find_variant(session, ref)
    if not ref.explicit and (variant is None or variant.digest is None):
        latest = latest_registered(session, ref.name)
        if latest is not None:
            using = f"using {latest.revision} (latest registered)"
            return latest, f"{ref.name}: no revision {ref.revision}, {using}"
    if variant is None:
        raise VariantNotFound(
            f"no variant {ref} is registered",
            hint="check the name and revision, or register it with `provreg register`",
            detail={"name": ref.name, "revision": ref.revision},
        )
    return variant, None


def variant_or_placeholder(session: Session, ref: VariantRef) -> Variant:
    """The variant at ``ref``, created without weights when only its name is known yet."""
    variant = find_variant(session, ref)
    if variant is None:
        ns = namespace_row(session, ref.namespace)
        variant = Variant(namespace_id=ns.id or 0, name=ref.name, revision=ref.revision)
        session.add(variant)
        session.flush()
    return variant


def _card_out_of_config(
    config: dict[str, Any] | None, card: CardMarkers | None
) -> tuple[dict[str, Any] | None, CardMarkers | None]:
    """The config without the markers clients before the ``card`` field put inside it, and the
    card markers (the explicit field first). Raises InvalidInput on malformed legacy markers."""
    if not config or LEGACY_CARD_CONFIG_KEY not in config:
        return config, card
    rest = {k: v for k, v in config.items() if k != LEGACY_CARD_CONFIG_KEY}
    try:
        legacy = CardMarkers.model_validate(config[LEGACY_CARD_CONFIG_KEY])
    except ValueError:
        raise InvalidInput(
            f"config.{LEGACY_CARD_CONFIG_KEY} is not a card's tags and name",
            hint="send the card's markers in the request's card field",
        ) from None
    return rest or None, card or legacy


def _refuse_new_parents(
    session: Session, variant: Variant, parents: list[tuple[VariantRef, str]]
) -> None:
    """Registering the same weights again may repeat its declared parents, never add one: an
    added parent would otherwise be dropped with an "unchanged" answer."""
    declared = {
        (p.name, p.revision, e.relation)
        for e, p in session.exec(
            select(LineageEdge, Variant)
            .join(Variant, col(Variant.id) == LineageEdge.parent_id)
            .where(
                LineageEdge.child_id == variant.id,
                LineageEdge.source == "declared",
                LineageEdge.status != "retracted",
            )
        ).all()
    }
    new = [(ref, rel) for ref, rel in parents if (ref.name, ref.revision, rel) not in declared]
    if not new:
        return
    ref, relation = new[0]
    listed = ", ".join(f"{r} ({rel})" for r, rel in new)
    raise LineageNeedsDeclare(
        f"{variant.ref} is already registered with these weights; registering it again does "
        f"not change its lineage (new parents: {listed})",
        hint=f"declare it with `provreg lineage declare {variant.ref} --parent {ref} "
        f"--relation {relation}`",
        detail={"parents": [{"name": str(r), "relation": rel} for r, rel in new]},
    )


def register_variant(session: Session, request: VariantCreate) -> VariantPublic:
    """Store a variant, its files, tensors and declared parents; return its public view.

    Raises :class:`RevisionImmutable` when ``name@revision`` already holds other weights,
    :class:`LineageCycle` when a declared parent descends from the variant, and the errors of
    :func:`record_registration` when a signed release statement does not check out, and
    :class:`FingerprintInvalid` (before anything is written) when the fingerprint holds a value
    that cannot be stored as is.
    """
    ref = VariantRef(validate_name(request.name), validate_revision(request.revision))
    parents = declared_parents(request.parents)
    fp = request.fingerprint
    check_fingerprint(fp)
    # the sketch and the comparison (numpy), the safeguard statuses and the Hub's tables load
    # on the first registration, not on every read
    from registry.db.models import HubRepo
    from registry.services.identify.adapters import decode_adapter, store_adapter
    from registry.services.identify.sketch_index import decode_sketch, store_sketch
    from registry.services.lineage.checks import check_lineage
    from registry.services.safeguards.status import mark_dirty

    with transaction(session):
        variant = find_variant(session, ref)
        if variant is not None and variant.digest is not None:
            if variant.digest == fp.digest:
                _refuse_new_parents(session, variant, parents)
                check_reposted_statement(session, variant, request)
                return variant_public(session, variant, created=False)
            raise RevisionImmutable(
                f"{ref} is already registered with digest {variant.digest}",
                hint="a registered revision never changes: register the new weights under a "
                "new --revision",
                detail={"registered_digest": variant.digest, "new_digest": fp.digest},
            )
        if variant is None:
            variant = variant_or_placeholder(session, ref)
        variant.digest = fp.digest
        variant.format = fp.format
        variant.dtypes = list(fp.dtypes)
        variant.parameters = fp.parameters
        variant.total_size = sum(f.size for f in fp.files)
        variant.architecture = fp.architecture
        variant.config, card = _card_out_of_config(fp.config, request.card)
        variant.card_markers = card.model_dump() if card is not None else None
        variant.updated_at = utcnow()
        session.add(variant)
        session.flush()
        assert variant.id is not None
        if fp.files:
            session.execute(
                insert(VariantFile),
                [{"variant_id": variant.id, **f.model_dump()} for f in fp.files],
            )
        if fp.tensors:
            session.execute(
                insert(Tensor), [{"variant_id": variant.id, **t.model_dump()} for t in fp.tensors]
            )
        sketch = adapter = None
        if fp.sketch:
            sketch, blob = decode_sketch(fp.sketch)
            store_sketch(session, variant.id, sketch, blob)
        if fp.adapter:
            adapter, adapter_blob = decode_adapter(fp.adapter)
            store_adapter(session, variant.id, adapter, adapter_blob)
        for parent_ref, relation in parents:
            parent = variant_or_placeholder(session, parent_ref)
            assert parent.id is not None
            if is_ancestor_or_self(session, variant.id, parent.id):
                raise LineageCycle(
                    f"declaring {parent_ref} as a parent of {ref} would close a cycle",
                    hint=f"{parent_ref} already descends from {ref}; check the declared parents",
                )
            session.add(
                LineageEdge(
                    child_id=variant.id,
                    parent_id=parent.id,
                    relation=relation,
                    source="declared",
                    status="unverified",
                )
            )
        session.flush()
        moved = check_lineage(session, variant, sketch, adapter)
        record_registration(session, variant, request, parents)  # signature check and log
        log_edge_states(session, moved)  # detected edges re-pointed elsewhere in the family
        if session.exec(select(HubRepo.id).where(HubRepo.variant_id == variant.id)).first() is None:
            variant_added(session, variant)  # webhooks (a Hub repo was announced when first seen)
        mark_dirty(session, variant.id)  # its safeguard status, at the next read
        for child_id in session.exec(
            select(LineageEdge.child_id).where(LineageEdge.parent_id == variant.id)
        ).all():
            mark_dirty(session, child_id)  # children kept by name, or detected just now
    return variant_public(session, variant, created=True)


def edge_public(
    edge: LineageEdge, child: str, parent: str, reasons: dict[int, str] | None = None
) -> LineageEdgePublic:
    """The wire view of an edge; ``reasons`` holds retracted edges' reasons by edge id."""
    return LineageEdgePublic(
        child=child,
        parent=parent,
        relation=edge.relation,
        source=edge.source,
        status=edge.status,
        score=edge.score,
        evidence=edge.evidence,
        reason=(reasons or {}).get(edge.id or 0) if edge.status == "retracted" else None,
    )


def _neighbours(
    session: Session, variant: Variant, *, up: bool, limit: int | None = None
) -> list[tuple[LineageEdge, Variant]]:
    """The edges to ``variant``'s parents (``up``) or children, with the variant at the other
    end, by name."""
    near, far = (LineageEdge.child_id, LineageEdge.parent_id)
    if not up:
        near, far = far, near
    query = (
        select(LineageEdge, Variant)
        .join(Variant, col(Variant.id) == far)
        .where(near == variant.id)
        .order_by(Variant.name, Variant.revision)
        .limit(limit)
    )
    return list(session.exec(query).all())


def variant_public(
    session: Session, variant: Variant, *, created: bool | None = None
) -> VariantPublic:
    """The public view of a stored variant, with files and its direct edges."""
    files = session.exec(
        select(VariantFile).where(VariantFile.variant_id == variant.id).order_by(VariantFile.path)
    ).all()
    tensor_count = session.exec(
        select(func.count()).select_from(Tensor).where(Tensor.variant_id == variant.id)
    ).one()
    parent_rows = _neighbours(session, variant, up=True)
    child_rows = _neighbours(session, variant, up=False, limit=CHILDREN_SHOWN)
    reasons = retraction_reasons(
        session, [e.id or 0 for e, _ in parent_rows + child_rows if e.status == "retracted"]
    )
    sketch = session.get(VariantSketch, variant.id)
    adapter = session.get(VariantAdapter, variant.id)
    return VariantPublic(
        name=variant.name,
        revision=variant.revision,
        digest=variant.digest,
        format=variant.format,
        parameters=variant.parameters,
        dtypes=variant.dtypes or [],
        architecture=variant.architecture,
        config=variant.config,
        card=CardMarkers.model_validate(variant.card_markers) if variant.card_markers else None,
        registered=variant.digest is not None,
        files=[FileDigest(path=f.path, size=f.size, sha256=f.sha256) for f in files],
        tensor_count=int(tensor_count),
        sketch_digest=sketch.digest if sketch is not None else None,
        adapter_digest=adapter.digest if adapter is not None else None,
        lineage=[edge_public(e, variant.ref, p.ref, reasons) for e, p in parent_rows],
        children=[edge_public(e, c.ref, variant.ref, reasons) for e, c in child_rows],
        created=created,
        signature=signature_info(session, variant.id),
        log_index=registration_index(session, variant.id),
        attached_signatures=attached_signatures(session, variant),
        created_at=variant.created_at,
        updated_at=variant.updated_at,
    )


def show_variant(session: Session, ref: VariantRef) -> VariantPublic:
    """The public view of ``ref``; raises :class:`VariantNotFound`."""
    variant, note = resolve_variant(session, ref)
    public = variant_public(session, variant)
    public.note = note
    return public
