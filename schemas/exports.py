"""Exports of a variant as a bill of materials (the documents follow their own standards)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import RootModel

ExportFormat = Literal["cyclonedx", "spdx"]


class ExportDocument(RootModel[dict[str, Any]]):
    """A CycloneDX 1.6 or SPDX 3.0.1 JSON document, as the standard defines it."""
