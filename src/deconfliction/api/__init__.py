"""The HTTP API (FastAPI): a thin adapter over the service layer."""

from .app import create_app

__all__ = ["create_app"]
