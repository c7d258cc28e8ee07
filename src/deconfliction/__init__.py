"""Deconfliction and situational awareness between armed parties sharing a theatre."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
