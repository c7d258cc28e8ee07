"""Requests' report batches into the engine a group at a time.

Requests that arrive while the engine is busy wait in a queue; the next evaluation takes
all of them as one batch, so the rules run once for the group instead of once per
request, and the group commits in one transaction. A lone request is its own group.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from ..batch import ReportBatch
from ..model import Unit
from ..queues import leftovers, take_group
from .inputs import RawReports
from .views import IngestAnswer

MAX_GROUP_REPORTS = 50_000

MODEL_CHECKED_REPORTS = 8
"""Bodies of at most this many reports are checked by the report model, not by columns."""


def few_plain_reports(raw: RawReports) -> bool:
    """Whether the model checks these rows faster than the column checks do.

    The column checks cost tens of microseconds of numpy calls whatever the size, three
    times what the model takes for one report. Both refuse the same rows naming the
    same field; only equipment names are explained better by the columns, so rows with
    equipment keep that path.
    """
    rows = raw.rows
    return len(rows) <= MODEL_CHECKED_REPORTS and not any("equipment" in r for r in rows)


@dataclass(slots=True)
class Pending:
    batch: ReportBatch
    register: list[Unit]
    answer: Future[IngestAnswer] = field(default_factory=Future)


class IngestQueue:
    """One thread that hands groups of pending batches to `run_group`, in arrival order."""

    def __init__(self, run_group: Callable[[list[Pending]], None]) -> None:
        self._run_group = run_group
        self._queue: queue.Queue[Pending | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="ingest", daemon=True)
        self._thread.start()

    def submit(self, batch: ReportBatch, register: list[Unit]) -> Future[IngestAnswer]:
        pending = Pending(batch, register)
        if not self._thread.is_alive():
            pending.answer.set_exception(RuntimeError("the service is closed"))
        else:
            self._queue.put(pending)
        return pending.answer

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                return
            group, stop = take_group(
                self._queue, first, MAX_GROUP_REPORTS, lambda pending: len(pending.batch)
            )
            try:
                self._run_group(group)
            except BaseException as exc:
                for pending in group:
                    if not pending.answer.done():
                        pending.answer.set_exception(exc)
        for pending in leftovers(self._queue):
            pending.answer.set_exception(RuntimeError("the service is closed"))
