"""Downloads: snapshots of counters, publishers' download logs, and a variant's series,
reach and growth.
"""

from typing import TYPE_CHECKING

from registry.exports import lazy_surface

if TYPE_CHECKING:
    from registry.services.downloads.logs import ingest_download_log
    from registry.services.downloads.report import (
        downloads_changed,
        downloads_report,
        record_downloads,
    )

__all__, __getattr__ = lazy_surface(__name__, __file__)
