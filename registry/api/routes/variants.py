"""Variants: list, search, register, show."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from registry.api.deps import ERRORS, PolicyDep, PublisherToken, SessionDep, variant_ref
from registry.names import validate_name
from registry.services import list_variants, register_variant, require_publish, show_variant
from registry.services.browse import MAX_QUERY_CHARS, MAX_SEARCH, search_variants
from registry.services.variants import variant_overview
from schemas import VariantCreate, VariantOverview, VariantPage, VariantPublic
from schemas.browse import VariantSearchResult

router = APIRouter(prefix="/variants")


@router.get("", response_model=VariantPage, responses=ERRORS, tags=["variants"])
def list_(
    session: SessionDep,
    policy: PolicyDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: str | None = None,
    namespace: str | None = None,
    digest: str | None = None,
    name: Annotated[str | None, Query(description="namespace/name: its revisions")] = None,
    search: Annotated[
        str | None, Query(max_length=MAX_QUERY_CHARS, description="part of the name, any case")
    ] = None,
    status_: Annotated[
        str | None, Query(alias="status", description="safeguard statuses, comma-separated")
    ] = None,
    sort: Literal["registered", "downloads", "reach"] = "registered",
) -> VariantPage:
    """Variants, oldest first (or by downloads or reach, most first), each with its safeguard
    status; filter by namespace, name, content digest, part of the name or status."""
    return list_variants(
        session,
        limit=limit,
        cursor=cursor,
        namespace=namespace,
        digest=digest,
        name=name,
        search=search,
        status=status_,
        sort=sort,
        policy=policy,
    )


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


@router.get(
    "/{namespace}/{name}/overview",
    response_model=VariantOverview,
    responses=ERRORS,
    tags=["variants"],
)
def overview(
    namespace: str,
    name: str,
    session: SessionDep,
    policy: PolicyDep,
    revision: str | None = None,
) -> VariantOverview:
    """One variant with its safeguard status, latest results, advisories and downloads."""
    return variant_overview(session, variant_ref(namespace, name, revision), policy)
