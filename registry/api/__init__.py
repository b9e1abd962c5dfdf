"""The HTTP API: :func:`create_app` builds the FastAPI app; routes are thin wrappers on services."""

from registry.api.app import create_app

__all__ = ["create_app"]
