"""Durable state behind the `Store` protocol; SQLite is the default backend."""

from .base import (
    Ack,
    AlertPage,
    AlertQuery,
    IngestResult,
    LoggedBatch,
    Reference,
    Role,
    Store,
    StoredEvent,
    Token,
)
from .migrations import Migration, register_migration
from .sqlite import SQLiteStore

__all__ = [
    "Ack",
    "AlertPage",
    "AlertQuery",
    "IngestResult",
    "LoggedBatch",
    "Migration",
    "Reference",
    "Role",
    "SQLiteStore",
    "Store",
    "StoredEvent",
    "Token",
    "register_migration",
]
