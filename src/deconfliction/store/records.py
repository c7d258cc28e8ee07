"""Incident and token queries of the SQLite store."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from ..batch import from_us, to_us
from ..model import Incident
from .base import Role, Token
from .writer import Writer

_ID_CHUNK = 900


class _Reads:
    """What the mixins need of the store."""

    _writer: Writer
    _read: Callable[..., list[Any]]


class RecordQueries(_Reads):
    """Incidents and API tokens."""

    def put_incident(self, incident: Incident) -> None:
        self._writer.run(
            lambda c: c.execute(
                "INSERT INTO incidents (id, party, time_us, document) VALUES (?, ?, ?, ?)",
                (incident.id, incident.party, to_us(incident.time), incident.model_dump_json()),
            )
        )

    def incidents(self, party: str | None = None) -> list[Incident]:
        """Incidents of `party` and those of no party; all of them when `party` is None."""
        if party is None:
            rows = self._read("SELECT document FROM incidents ORDER BY time_us, id")
        else:
            rows = self._read(
                "SELECT document FROM incidents WHERE party = ? OR party IS NULL"
                " ORDER BY time_us, id",
                (party,),
            )
        return [Incident.model_validate_json(doc) for (doc,) in rows]

    def incident_exists(self, incident_id: str) -> bool:
        return bool(self._read("SELECT 1 FROM incidents WHERE id = ?", (incident_id,)))

    def incident(self, party: str, incident_id: str) -> Incident | None:
        rows = self._read(
            "SELECT document FROM incidents WHERE id = ? AND (party = ? OR party IS NULL)",
            (incident_id, party),
        )
        return Incident.model_validate_json(rows[0][0]) if rows else None

    # tokens --------------------------------------------------------------------

    def add_token(self, party: str, role: Role, token_hash: str, created: datetime) -> int:
        def job(c: sqlite3.Connection) -> int:
            cursor = c.execute(
                "INSERT INTO tokens (party, role, hash, created_us) VALUES (?, ?, ?, ?)",
                (party, str(role), token_hash, to_us(created)),
            )
            return int(cursor.lastrowid or 0)

        return int(self._writer.run(job))

    def token_by_hash(self, token_hash: str) -> tuple[Token, str] | None:
        rows = self._read(
            "SELECT id, party, role, created_us, revoked_us, hash FROM tokens WHERE hash = ?",
            (token_hash,),
        )
        if not rows:
            return None
        return _token(rows[0][:5]), rows[0][5]

    def tokens(self) -> list[Token]:
        rows = self._read("SELECT id, party, role, created_us, revoked_us FROM tokens ORDER BY id")
        return [_token(r) for r in rows]

    def token_revoked(self, token_id: int) -> bool:
        """Whether a token is revoked (or gone)."""
        rows = self._read("SELECT revoked_us FROM tokens WHERE id = ?", (token_id,))
        return not rows or rows[0][0] is not None

    def revoke_token(self, token_id: int, at: datetime) -> bool:
        def job(c: sqlite3.Connection) -> bool:
            cursor = c.execute(
                "UPDATE tokens SET revoked_us = ? WHERE id = ? AND revoked_us IS NULL",
                (to_us(at), token_id),
            )
            return cursor.rowcount > 0

        return bool(self._writer.run(job))


def _token(row: Sequence[Any]) -> Token:
    token_id, party, role, created, revoked = row
    return Token(
        token_id, party, Role(role), from_us(created), None if revoked is None else from_us(revoked)
    )
