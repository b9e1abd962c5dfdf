"""SQLModel tables (table=True only). Wire models live in ``schemas``.

The tables load by module on first use (:mod:`registry.exports`), so a command that reads
variants does not build the Hub's or the log's tables; :func:`load_tables` loads every one
(Alembic's autogenerate and anything else that walks ``SQLModel.metadata``).
"""

import importlib
from typing import TYPE_CHECKING

from registry.exports import lazy_surface

if TYPE_CHECKING:
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
    from registry.db.models.webhooks import Webhook, WebhookDelivery

__all__, __getattr__ = lazy_surface(__name__, __file__)

TABLE_MODULES = ("core", "corrections", "evidence", "hub", "trust", "webhooks")


def load_tables() -> None:
    """Register every table on ``SQLModel.metadata``."""
    for module in TABLE_MODULES:
        importlib.import_module(f"{__name__}.{module}")
