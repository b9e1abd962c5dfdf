"""provreg's wire contract: pydantic models for requests, responses and documents.

Imports nothing from ``registry``, ``cli``, sqlmodel or fastapi, so clients can depend on it alone.
"""

from schemas.common import (
    EDGE_SOURCES,
    EDGE_STATUSES,
    RELATIONS,
    EdgeSource,
    EdgeStatus,
    ErrorBody,
    ErrorEnvelope,
    Relation,
)
from schemas.identify import IdentifyMatch, IdentifyQuery, IdentifyResult, QuerySummary
from schemas.lineage import LineageEdgePublic, LineageGraph, LineageNode
from schemas.tokens import TokenCreate, TokenPublic
from schemas.variants import (
    DeclaredParent,
    FileDigest,
    TensorDigest,
    VariantCreate,
    VariantPage,
    VariantPublic,
    VariantSummary,
    WeightsFingerprint,
)

__all__ = [
    "EDGE_SOURCES",
    "EDGE_STATUSES",
    "RELATIONS",
    "DeclaredParent",
    "EdgeSource",
    "EdgeStatus",
    "ErrorBody",
    "ErrorEnvelope",
    "FileDigest",
    "IdentifyMatch",
    "IdentifyQuery",
    "IdentifyResult",
    "LineageEdgePublic",
    "LineageGraph",
    "LineageNode",
    "QuerySummary",
    "Relation",
    "TensorDigest",
    "TokenCreate",
    "TokenPublic",
    "VariantCreate",
    "VariantPage",
    "VariantPublic",
    "VariantSummary",
    "WeightsFingerprint",
]
