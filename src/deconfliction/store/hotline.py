"""The hotline's durable journal in the service's SQLite file (migration 100).

Entries are appended in one transaction each and committed before `append` returns, so
an acknowledged send survives a kill -9. Desk seeds are stored for the desks whose
messages the service signs; a party that registered its own key has no seed here.
"""

from __future__ import annotations

import fcntl
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from ..hotline.chain import ChainEntry
from ..hotline.conflicts import OwnForces
from ..hotline.desk import Hotline
from ..hotline.keys import DeskKey
from ..hotline.messages import HotlineMessage, HotlineSettings
from ..hotline.records import KeyPeriod
from ..lifecycle import AlertBook
from .migrations import migrate, register_migration

register_migration(
    100,
    "hotline: desk keys and each pair's chain of signed messages",
    """
    CREATE TABLE hotline_keys (
        party TEXT PRIMARY KEY, public TEXT NOT NULL, seed BLOB
    );
    CREATE TABLE hotline_entries (
        pair_a TEXT NOT NULL,
        pair_b TEXT NOT NULL,
        seq INTEGER NOT NULL,
        received TEXT NOT NULL,
        prev BLOB NOT NULL,
        hash BLOB NOT NULL,
        signature BLOB NOT NULL,
        message TEXT NOT NULL,
        message_id TEXT NOT NULL UNIQUE,
        PRIMARY KEY (pair_a, pair_b, seq)
    );
    """,
)


register_migration(
    101,
    "hotline: every public key a desk has had, with when it was in use",
    """
    CREATE TABLE hotline_key_history (
        party TEXT NOT NULL, public TEXT NOT NULL, valid_from TEXT, valid_to TEXT
    );
    CREATE INDEX hotline_key_history_party ON hotline_key_history (party);
    INSERT INTO hotline_key_history (party, public) SELECT party, public FROM hotline_keys;
    """,
)


class JournalBusy(RuntimeError):
    """Another process writes this journal: two writers would fork the chains."""


class SQLiteJournal:
    """The `Journal` of a hotline, in a SQLite file shared with the service's store.

    A hotline keeps each chain's head in memory, so only one process may append: the
    writer takes an exclusive lock on a file beside the database (`writer()`), which the
    system releases when that process ends, however it ends.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._writer: IO[bytes] | None = None
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout = 10000")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = FULL")
        migrate(self._db)

    def append(self, entry: ChainEntry) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO hotline_entries (pair_a, pair_b, seq, received, prev, hash,"
                " signature, message, message_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.pair[0],
                    entry.pair[1],
                    entry.seq,
                    entry.received.isoformat(),
                    entry.prev,
                    entry.hash,
                    entry.signature,
                    entry.message.model_dump_json(exclude_none=True),
                    entry.message.id,
                ),
            )

    def put_key(self, party: str, public_text: str, seed: bytes | None) -> None:
        """The desk's key from now on; a different key closes the period of the one before,
        which stays in the history."""
        now = datetime.now(UTC).isoformat()
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                current = db.execute(
                    "SELECT public FROM hotline_key_history WHERE party = ? AND valid_to IS NULL",
                    (party,),
                ).fetchone()
                if current is None or current[0] != public_text:
                    db.execute(
                        "UPDATE hotline_key_history SET valid_to = ?"
                        " WHERE party = ? AND valid_to IS NULL",
                        (now, party),
                    )
                    db.execute(
                        "INSERT INTO hotline_key_history (party, public, valid_from)"
                        " VALUES (?, ?, ?)",
                        (party, public_text, now),
                    )
                db.execute(
                    "INSERT INTO hotline_keys (party, public, seed) VALUES (?, ?, ?)"
                    " ON CONFLICT (party) DO UPDATE SET public = excluded.public,"
                    " seed = excluded.seed",
                    (party, public_text, seed),
                )
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def key_history(self, party: str) -> list[KeyPeriod]:
        """Every public key of the desk, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT public, valid_from, valid_to FROM hotline_key_history"
                " WHERE party = ? ORDER BY rowid",
                (party,),
            ).fetchall()
        return [KeyPeriod(public, _time(start), _time(end)) for public, start, end in rows]

    def desk_keys(self) -> list[tuple[str, str, bytes | None]]:
        with self._lock:
            rows = self._db.execute("SELECT party, public, seed FROM hotline_keys ORDER BY party")
            return [(r[0], r[1], r[2]) for r in rows]

    def entries(self) -> Iterator[ChainEntry]:
        """Every stored entry, each pair's in chain order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT pair_a, pair_b, seq, received, prev, hash, signature, message"
                " FROM hotline_entries ORDER BY pair_a, pair_b, seq"
            ).fetchall()
        for a, b, seq, received, prev, digest, signature, message in rows:
            yield ChainEntry(
                (a, b),
                seq,
                datetime.fromisoformat(received),
                HotlineMessage.model_validate_json(message),
                signature,
                prev,
                digest,
            )

    def parties(self) -> list[str]:
        """The parties of the agreement held in the same file, in their order."""
        with self._lock:
            rows = self._db.execute("SELECT id FROM parties ORDER BY position").fetchall()
        return [r[0] for r in rows]

    def writer(self) -> None:
        """Become the one process that appends to this journal, or raise JournalBusy."""
        if self._writer is not None:
            return
        handle = open(f"{self.path}.hotline-lock", "ab")  # noqa: SIM115 - held until close
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise JournalBusy(
                f"{self.path}: another process (a running server?) writes its hotline;"
                " use that server's API, or stop it first"
            ) from None
        self._writer = handle

    def close(self) -> None:
        with self._lock:
            self._db.close()
            if self._writer is not None:
                self._writer.close()
                self._writer = None


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def open_hotline(
    journal: SQLiteJournal,
    parties: list[str],
    now: datetime,
    settings: HotlineSettings | None = None,
    forces: OwnForces | None = None,
    book: AlertBook | None = None,
) -> Hotline:
    """A hotline with the stored keys and entries; new ones are journalled."""
    hotline = Hotline(parties, settings, forces=forces, book=book, journal=journal)
    for party, public, seed in journal.desk_keys():
        if party not in parties:
            continue
        if seed is not None:
            hotline.use_key(party, DeskKey.from_seed(seed))
        else:
            hotline.register_public_key(party, public)
    hotline.restore(journal.entries(), now)
    return hotline
