"""One writer thread fed by a queue: every write to the database goes through it.

Jobs queued while a transaction is committing are taken together into the next
transaction (group commit), each under its own savepoint so that one failing job
rolls back alone. A job's future is set only once its transaction is committed.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from ..queues import leftovers, take_group

Job = Callable[[sqlite3.Connection], Any]
AfterCommit = Callable[[], None]

_MAX_GROUP = 64


@dataclass(slots=True)
class _Item:
    job: Job
    future: Future[Any]
    after: list[AfterCommit]


class StoreClosed(RuntimeError):
    """The store was closed while a write was waiting."""


class Writer:
    """Runs write jobs on one connection in one thread, in the order they were queued."""

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        on_rollback: Callable[[sqlite3.Connection], None] | None = None,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self._on_rollback = on_rollback
        self._on_commit = on_commit
        self._queue: queue.Queue[_Item | None] = queue.Queue()
        self._ready = threading.Event()
        self._connect = connect
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def submit(self, job: Job, after: AfterCommit | None = None) -> Future[Any]:
        """Queue a job; `after` runs on the writer thread once the job is committed."""
        future: Future[Any] = Future()
        if not self._thread.is_alive():
            future.set_exception(StoreClosed("the store is closed"))
            return future
        self._queue.put(_Item(job, future, [after] if after else []))
        return future

    def run(self, job: Job) -> Any:
        return self.submit(job).result()

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _run(self) -> None:
        try:
            connection = self._connect()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            stop = False
            while not stop:
                first = self._queue.get()
                if first is None:
                    break
                group, stop = take_group(self._queue, first, _MAX_GROUP, lambda _: 1)
                self._transaction(connection, group)
            for item in leftovers(self._queue):
                item.future.set_exception(StoreClosed("the store is closed"))
        finally:
            connection.close()

    def _transaction(self, connection: sqlite3.Connection, group: list[_Item]) -> None:
        results: list[tuple[_Item, bool, Any]] = []
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            for item in group:
                item.future.set_exception(exc)
            return
        if len(group) == 1:
            # A lone job needs no savepoint: if it fails, the whole transaction goes.
            # Every statement hands the interpreter lock back and must queue to take
            # it again, so two fewer statements are two fewer waits behind the engine.
            (item,) = group
            try:
                results.append((item, True, item.job(connection)))
            except BaseException as exc:
                connection.execute("ROLLBACK")
                item.future.set_exception(exc)
                return
        for item in group if len(group) > 1 else ():
            connection.execute("SAVEPOINT job")
            try:
                value = item.job(connection)
            except BaseException as exc:
                connection.execute("ROLLBACK TO job")
                connection.execute("RELEASE job")
                results.append((item, False, exc))
                continue
            connection.execute("RELEASE job")
            results.append((item, True, value))
        try:
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            connection.execute("ROLLBACK")
            # Jobs may have advanced in-memory counters for rows that are now gone.
            if self._on_rollback is not None:
                self._on_rollback(connection)
            for item in group:
                item.future.set_exception(exc)
            return
        if self._on_commit is not None:
            self._on_commit()
        for item, ok, value in results:
            if ok:
                for after in item.after:
                    after()
                item.future.set_result(value)
            else:
                item.future.set_exception(value)
