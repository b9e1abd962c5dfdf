"""SQLModel tables (table=True only). Wire models live in ``schemas``."""

from registry.db.models.core import (
    ApiToken,
    LineageEdge,
    Namespace,
    SketchBand,
    Tensor,
    Variant,
    VariantAdapter,
    VariantFile,
    VariantSketch,
    timestamp_field,
    utcnow,
)
from registry.db.models.evidence import (
    Advisory,
    DownloadSnapshot,
    EvalResult,
    SafeguardDirty,
    SafeguardStatus,
)
from registry.db.models.hub import (
    DownloadEvent,
    FingerprintJob,
    HubFile,
    HubRepo,
    HubSync,
    HubSyncItem,
)
from registry.db.models.trust import (
    AttachedSignature,
    LogLeaf,
    LogNode,
    SignedStatement,
    SigningKey,
)

__all__ = [
    "Advisory",
    "ApiToken",
    "AttachedSignature",
    "DownloadEvent",
    "DownloadSnapshot",
    "EvalResult",
    "FingerprintJob",
    "HubFile",
    "HubRepo",
    "HubSync",
    "HubSyncItem",
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
    "VariantAdapter",
    "VariantFile",
    "VariantSketch",
    "timestamp_field",
    "utcnow",
]
