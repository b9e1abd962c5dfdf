"""Variants: list, register, show."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from registry.api.deps import PublisherToken, SessionDep
from registry.names import VariantRef, validate_name, validate_revision
from registry.services import list_variants, register_variant, require_publish, show_variant
from schemas import ErrorEnvelope, VariantCreate, VariantPage, VariantPublic

router = APIRouter(prefix="/variants", tags=["variants"])
_ERRORS: dict[int | str, dict] = {
    code: {"model": ErrorEnvelope} for code in (400, 401, 403, 404, 409, 422)
}


def variant_ref(namespace: str, name: str, revision: str) -> VariantRef:
    return VariantRef(validate_name(f"{namespace}/{name}"), validate_revision(revision))


@router.get("", response_model=VariantPage, responses=_ERRORS)
def list_(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: str | None = None,
    namespace: str | None = None,
    digest: str | None = None,
) -> VariantPage:
    """Registered variants, oldest first; filter by namespace or content digest."""
    return list_variants(session, limit=limit, cursor=cursor, namespace=namespace, digest=digest)


@router.post(
    "", response_model=VariantPublic, status_code=status.HTTP_201_CREATED, responses=_ERRORS
)
def register(
    body: VariantCreate, session: SessionDep, token: PublisherToken, response: Response
) -> VariantPublic:
    """Register a variant from its client-computed fingerprint (201; 200 when unchanged)."""
    require_publish(token, validate_name(body.name).split("/", 1)[0])
    out = register_variant(session, body)
    if out.created is False:
        response.status_code = status.HTTP_200_OK
    return out


@router.get("/{namespace}/{name}", response_model=VariantPublic, responses=_ERRORS)
def show(namespace: str, name: str, session: SessionDep, revision: str = "main") -> VariantPublic:
    """One variant with its files and direct lineage edges."""
    return show_variant(session, variant_ref(namespace, name, revision))
