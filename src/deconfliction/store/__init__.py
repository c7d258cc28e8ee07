"""Durable state behind the `Store` protocol; SQLite is the default backend."""

from .base import Ack, AlertQuery, IngestResult, Reference, Role, Store, StoredEvent, Token
from .migrations import Migration, register_migration
from .sqlite import AlertPage, SQLiteStore

__all__ = [
    "Ack",
    "AlertPage",
    "AlertQuery",
    "IngestResult",
    "Migration",
    "Reference",
    "Role",
    "SQLiteStore",
    "Store",
    "StoredEvent",
    "Token",
    "register_migration",
]
