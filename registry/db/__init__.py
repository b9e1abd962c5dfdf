"""Storage: the engine and sessions, the SQLModel tables, and queries that need SQL.

Alembic (top-level ``alembic/``) owns the schema; :func:`upgrade_database` brings any database to
the newest revision.
"""

from registry.db.engine import make_engine, make_session_factory
from registry.db.migrate import ready_engine, upgrade_database
from registry.db.models import (
    Advisory,
    ApiToken,
    AttachedSignature,
    DownloadSnapshot,
    EvalResult,
    LineageEdge,
    LogLeaf,
    LogNode,
    Namespace,
    SafeguardDirty,
    SafeguardStatus,
    SignedStatement,
    SigningKey,
    SketchBand,
    Tensor,
    Variant,
    VariantFile,
    VariantSketch,
)

__all__ = [
    "Advisory",
    "ApiToken",
    "AttachedSignature",
    "DownloadSnapshot",
    "EvalResult",
    "LineageEdge",
    "LogLeaf",
    "LogNode",
    "Namespace",
    "SafeguardDirty",
    "SafeguardStatus",
    "SignedStatement",
    "SigningKey",
    "SketchBand",
    "Tensor",
    "Variant",
    "VariantFile",
    "VariantSketch",
    "make_engine",
    "make_session_factory",
    "ready_engine",
    "upgrade_database",
]
