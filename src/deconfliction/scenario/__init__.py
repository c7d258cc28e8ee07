"""Scenario files: loading and validating them, the built-in scenarios, replay."""

from __future__ import annotations

from .errors import ScenarioError
from .loader import LoadedScenario, list_builtin, load, load_columns

__all__ = ["LoadedScenario", "ScenarioError", "list_builtin", "load", "load_columns"]
