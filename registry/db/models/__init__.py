"""SQLModel tables (table=True only). Wire models live in ``schemas``."""

from registry.db.models.core import (
    ApiToken,
    LineageEdge,
    Namespace,
    SketchBand,
    Tensor,
    Variant,
    VariantFile,
    VariantSketch,
    timestamp_field,
    utcnow,
)
from registry.db.models.corrections import CORRECTION_ACTIONS, Correction
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
    "CORRECTION_ACTIONS",
    "Advisory",
    "ApiToken",
    "AttachedSignature",
    "Correction",
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
    "VariantFile",
    "VariantSketch",
    "timestamp_field",
    "utcnow",
]
