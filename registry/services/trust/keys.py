"""Namespace keys: register, revoke, list, and which keys may sign what and when.

A key may sign from the leaf that logged its addition until the leaf that logged its revocation:
a statement logged in between stays valid after the key is revoked, nothing new is accepted.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from registry.db.engine import insert_once, transaction
from registry.db.models import LogLeaf, Namespace, SigningKey, utcnow
from registry.errors import InvalidInput, KeyExists, KeyNotFound, KeyRevoked, PermissionDenied
from registry.names import NAME_PART
from registry.services.pagination import id_page
from registry.services.trust import translog
from registry.trust.keys import PublicKey, key_id, load_public_key, public_key_pem
from schemas.lists import KeyPage
from schemas.trust import KeyPublic

ROLES = ("publisher", "evaluator")


def namespace_row(session: Session, name: str) -> Namespace:
    """The namespace called ``name``, created (and flushed) on first use; a namespace's first
    registrations may race, and the loser uses the winner's row."""

    def find() -> Namespace | None:
        return session.exec(select(Namespace).where(Namespace.name == name)).first()

    return find() or insert_once(session, Namespace(name=name), find)


def _namespace(session: Session, name: str) -> Namespace:
    if not NAME_PART.match(name):
        raise InvalidInput(f"invalid namespace {name!r}", hint="use the Hub's namespace spelling")
    return namespace_row(session, name)


def _log_index(session: Session, kind: str, key: SigningKey) -> int | None:
    return session.exec(
        select(LogLeaf.leaf_index).where(LogLeaf.kind == kind, LogLeaf.record_id == key.id)
    ).first()


def key_public(session: Session, key: SigningKey) -> KeyPublic:
    ns = session.get(Namespace, key.namespace_id)
    return KeyPublic(
        key_id=key.key_id,
        namespace=ns.name if ns else "?",
        role=key.role,
        public_key=key.public_key,
        active=key.revoked_at is None,
        created_at=key.created_at,
        revoked_at=key.revoked_at,
        added_log_index=_log_index(session, "key.added", key),
        revoked_log_index=_log_index(session, "key.revoked", key),
    )


def find_key(session: Session, kid: str) -> SigningKey:
    key = session.exec(select(SigningKey).where(SigningKey.key_id == kid.lower())).first()
    if key is None:
        raise KeyNotFound(f"no key {kid} is registered", hint="list keys with GET /v1/keys")
    return key


def add_key(session: Session, namespace: str, pem: str, role: str = "publisher") -> KeyPublic:
    """Register ``pem`` for ``namespace`` and log it; raises KeyInvalid or KeyExists."""
    if role not in ROLES:
        raise InvalidInput(f"unknown key role {role!r}", hint="use publisher or evaluator")
    public = load_public_key(pem, allow_ec=True)
    kid = key_id(public)
    with transaction(session):
        if session.exec(select(SigningKey).where(SigningKey.key_id == kid)).first():
            raise KeyExists(
                f"key {kid} is already registered",
                hint="a key is registered once; rotate by "
                "adding a new key and revoking the old one",
            )
        ns = _namespace(session, namespace)
        key = SigningKey(
            key_id=kid, namespace_id=ns.id or 0, role=role, public_key=public_key_pem(public)
        )
        translog.append_row(session, key, "key.added")
    return key_public(session, key)


def revoke_key(session: Session, kid: str) -> KeyPublic:
    """Revoke a key and log it; revoking twice changes nothing."""
    with transaction(session):
        key = find_key(session, kid)
        if key.revoked_at is None:
            key.revoked_at = utcnow()
            translog.append_row(session, key, "key.revoked")
    return key_public(session, key)


def list_keys(session: Session, namespace: str | None = None) -> list[KeyPublic]:
    query = select(SigningKey).order_by(col(SigningKey.id))
    if namespace:
        query = query.join(Namespace).where(Namespace.name == namespace)
    return [key_public(session, k) for k in session.exec(query).all()]


def key_page(
    session: Session, namespace: str | None = None, *, limit: int = 50, cursor: str | None = None
) -> KeyPage:
    """A page of keys, oldest first, active and revoked; filter by namespace."""
    query = select(SigningKey)
    if namespace:
        query = query.join(Namespace).where(Namespace.name == namespace)
    rows, next_cursor = id_page(session, query, col(SigningKey.id), limit=limit, cursor=cursor)
    return KeyPage(items=[key_public(session, k) for k in rows], next_cursor=next_cursor)


def namespace_of_key(session: Session, kid: str) -> tuple[str, str]:
    """``(namespace, role)`` of a key, for scope checks."""
    key = find_key(session, kid)
    ns = session.get(Namespace, key.namespace_id)
    return (ns.name if ns else "", key.role)


def require_key_scope(scope: str, namespace: str, role: str) -> None:
    """Who may manage keys: admin; ``publish:<ns>`` for its publisher keys; ``evaluate:<ns>``
    (an evaluator token bound to that namespace) for its evaluator keys. A plain ``evaluate``
    token records results but manages no namespace's keys: it is not bound to one, and letting
    it add keys would let any evaluator sign as any other. Raises :class:`PermissionDenied`."""
    need = f"publish:{namespace}" if role == "publisher" else f"evaluate:{namespace}"
    if scope in ("admin", need):
        return
    raise PermissionDenied(
        f"token scope {scope!r} cannot manage {role} keys of namespace {namespace!r}",
        hint=f"use a token with scope {need} or admin",
    )


def active_keys(session: Session, namespace: str, role: str = "publisher") -> dict[str, PublicKey]:
    """The namespace's active keys of ``role``, by key id."""
    rows = session.exec(
        select(SigningKey)
        .join(Namespace)
        .where(
            Namespace.name == namespace,
            SigningKey.role == role,
            col(SigningKey.revoked_at).is_(None),
        )
    ).all()
    return {k.key_id: load_public_key(k.public_key, allow_ec=True) for k in rows}


def refuse_revoked(session: Session, key_ids: list[str], namespace: str) -> None:
    """Raise :class:`KeyRevoked` when one of ``key_ids`` is a revoked key of ``namespace``."""
    for kid in key_ids:
        key = session.exec(select(SigningKey).where(SigningKey.key_id == kid)).first()
        if key is not None and key.revoked_at is not None:
            ns = session.get(Namespace, key.namespace_id)
            if ns is not None and ns.name == namespace:
                raise KeyRevoked(
                    f"key {kid[:16]}… was revoked and signs nothing new",
                    hint="sign with an active key of the namespace",
                )


def valid_at(key: KeyPublic, log_index: int) -> bool:
    """Whether ``key`` could sign what was logged at ``log_index``."""
    if key.added_log_index is None or key.added_log_index >= log_index:
        return False
    return key.revoked_log_index is None or log_index < key.revoked_log_index
