"""Variants: list, search, register, show."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from registry.api.deps import ERRORS, PublisherToken, SessionDep, variant_ref
from registry.names import validate_name
from registry.services import list_variants, register_variant, require_publish, show_variant
from registry.services.browse import MAX_QUERY_CHARS, MAX_SEARCH, search_variants
from schemas import VariantCreate, VariantPage, VariantPublic
from schemas.browse import VariantSearchResult

router = APIRouter(prefix="/variants")


@router.get("", response_model=VariantPage, responses=ERRORS, tags=["variants"])
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
    "",
    response_model=VariantPublic,
    status_code=status.HTTP_201_CREATED,
    responses=ERRORS,
    tags=["variants"],
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


@router.get(
    "/{namespace}/{name}", response_model=VariantPublic, responses=ERRORS, tags=["variants"]
)
def show(
    namespace: str, name: str, session: SessionDep, revision: str | None = None
) -> VariantPublic:
    """One variant with its files and direct lineage edges."""
    return show_variant(session, variant_ref(namespace, name, revision))


@router.get("/search", response_model=VariantSearchResult, responses=ERRORS, tags=["browse"])
def search(
    session: SessionDep,
    q: Annotated[
        str, Query(max_length=MAX_QUERY_CHARS, description="part of NAME, or NAME@REV prefix")
    ],
    limit: Annotated[int, Query(ge=1, le=MAX_SEARCH)] = 10,
) -> VariantSearchResult:
    """Variants whose name contains ``q``, best match first: for search suggestions."""
    return search_variants(session, q, limit=limit)
