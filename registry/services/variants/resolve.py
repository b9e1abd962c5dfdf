"""Which variant a name without a revision means: ``main`` when it is registered, else the
latest registered revision (said in a note); and the registered name closest to a mistyped one."""

from __future__ import annotations

import difflib

from sqlalchemy import true
from sqlmodel import Session, col, select

from registry.db.models import Variant
from registry.names import DEFAULT_REVISION, VariantRef, validate_name, validate_revision

_NAMES_COMPARED = 50_000


def latest_registered(session: Session, name: str) -> Variant | None:
    """The most recently registered revision of ``name`` (with weights), or None."""
    return session.exec(
        select(Variant)
        .where(Variant.name == name, col(Variant.digest).is_not(None))
        .order_by(col(Variant.id).desc())
        .limit(1)
    ).first()


def resolve_ref(session: Session, name: str, revision: str | None) -> tuple[VariantRef, str | None]:
    """``(ref, note)``: ``name@revision`` as given; without a revision ``main`` when registered,
    else the latest registered revision with a note saying so (else ``main``, to be reported
    as not found or recorded by name). Raises :class:`InvalidName`."""
    name = validate_name(name)
    if revision is not None:
        return VariantRef(name, validate_revision(revision)), None
    main = session.exec(
        select(Variant.digest).where(Variant.name == name, Variant.revision == DEFAULT_REVISION)
    ).first()
    if main is None:  # not registered (a placeholder's digest is None too)
        latest = latest_registered(session, name)
        if latest is not None:
            note = (
                f"{name}: no revision {DEFAULT_REVISION}, using {latest.revision} "
                "(latest registered)"
            )
            return VariantRef(name, latest.revision), note
    return VariantRef(name, DEFAULT_REVISION), None


def split_ref(text: str) -> tuple[str, str | None]:
    """``NAME[@REV]`` as ``(name, revision or None)``, unvalidated."""
    name, sep, revision = text.strip().partition("@")
    return name, (revision if sep else None)


def did_you_mean(session: Session, name: str) -> str | None:
    """The registered name closest to ``name`` (difflib), when one is close."""
    namespace = name.split("/", 1)[0]
    for where in (col(Variant.name).startswith(f"{namespace}/"), true()):
        names = session.exec(
            select(Variant.name)
            .where(where, col(Variant.digest).is_not(None), Variant.name != name)
            .distinct()
            .limit(_NAMES_COMPARED)
        ).all()
        close = difflib.get_close_matches(name, list(names), n=1, cutoff=0.8)
        if close:
            return close[0]
    return None
