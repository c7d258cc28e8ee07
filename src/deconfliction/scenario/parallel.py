"""A replay split across processes, each keeping and evaluating some parties' pictures.

A party's picture and the rules evaluated over it are its own: nothing one party's
evaluation finds depends on another's (DESIGN section 5). What the parties share is the
alert numbering. In one process an evaluation goes through the parties in their order,
so within a batch the first party's new alerts are numbered before the second's, and
within a party in the order its rules raised them. Here each worker numbers the alerts of
its own parties; the parent, taking the workers' events batch by batch, gives every new
alert the number the single process would have given it and writes each event with it.
The output is byte for byte that of `Replay.json_steps`.

Only a replay that prints (no database: a store commits batch by batch, in order) of a
scenario without a scripted hotline (whose timers read every party's alerts) is split.
Workers are forked once the scenario is loaded, so they share its columns without copying
them.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import pickle
import signal
import traceback
from collections import deque
from collections.abc import Iterator, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

from ..engine import Engine, EngineError, UnknownUnitError
from ..model import AlertEvent
from .loader import LoadedScenario
from .replay import batches_by_time, event_body

PARALLEL_MIN_REPORTS = 100_000
"""A replay of fewer reports runs in one process unless asked otherwise: below this the
workers' start (each builds its own engine) outweighs what they save."""

CHUNK_REPORTS = 50_000
CHUNK_STEPS = 2_000
"""A worker sends its steps in chunks of at least this many reports (or steps): the
chunks fall on the same steps in every worker, which see the same batches."""

# One event as a worker sends it: its party's rank, its kind, the alert's number in the
# worker, and its JSON object without the "event" and "id" members.
_Part = tuple[int, str, int, bytes]
_Step = tuple[int, list[_Part]]


class ReplayWorkerError(RuntimeError):
    """A worker of a split replay failed or vanished; nothing more of it is written."""


def can_split(loaded: LoadedScenario) -> bool:
    """Whether a replay of this scenario (printed, not stored) may be split by party."""
    return (
        len(loaded.scenario.parties) > 1
        and not loaded.scenario.hotline
        and "fork" in multiprocessing.get_all_start_methods()
    )


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def jobs_for(loaded: LoadedScenario, requested: int | None) -> int:
    """How many processes a printed replay takes: `requested` (None: one per usable
    core for a long replay), never more than the parties, 1 when it cannot be split."""
    if not can_split(loaded):
        return 1
    if requested is None:
        requested = usable_cores() if len(loaded.reports) >= PARALLEL_MIN_REPORTS else 1
    return max(1, min(requested, len(loaded.scenario.parties)))


def assign(parties: Sequence[str], jobs: int) -> list[list[str]]:
    """The parties each worker keeps: dealt in turn, the first party to the first."""
    return [list(parties[k::jobs]) for k in range(jobs)]


class ParallelReplay:
    """A printed replay whose parties are evaluated by `jobs` forked workers."""

    def __init__(self, loaded: LoadedScenario, jobs: int) -> None:
        if jobs < 2 or not can_split(loaded):
            raise ValueError("a split replay needs two workers and a scenario that allows it")
        self.loaded = loaded
        parties = [p.id for p in loaded.scenario.parties]
        self.groups = assign(parties, min(jobs, len(parties)))

    @property
    def total(self) -> int:
        return len(self.loaded.reports)

    def json_steps(self) -> Iterator[tuple[int, list[bytes]]]:
        """Each step's number of reports and its events as JSON lines: those of
        `Replay(loaded).json_steps()`."""
        context = multiprocessing.get_context("fork")
        workers: list[tuple[Any, Connection]] = []
        # The loaded scenario is shared with the workers as it is: frozen, the collector
        # of a worker leaves its objects (and their pages) alone.
        gc.freeze()
        try:
            for group in self.groups:
                receive, send = context.Pipe(duplex=False)
                process = context.Process(
                    target=_work,
                    args=(self.loaded, group, send),
                    name=f"replay-{'-'.join(group)}",
                    daemon=True,
                )
                process.start()
                send.close()
                workers.append((process, receive))
        finally:
            gc.unfreeze()
        try:
            yield from self._merged(workers)
        finally:
            for process, connection in workers:
                connection.close()
                if process.is_alive():
                    process.terminate()
                process.join()

    def _merged(self, workers: list[tuple[Any, Connection]]) -> Iterator[tuple[int, list[bytes]]]:
        pending: list[deque[list[_Step]]] = [deque() for _ in workers]
        finished = [False] * len(workers)
        numbers: list[dict[int, int]] = [{} for _ in workers]
        next_number = 1
        by_connection = {id(connection): k for k, (_, connection) in enumerate(workers)}
        while True:
            # Read on until every worker has a chunk waiting or has finished, so that
            # none of them stays blocked on a full pipe while another is read.
            while any(not pending[k] and not finished[k] for k in range(len(workers))):
                waiting = [c for k, (_, c) in enumerate(workers) if not finished[k]]
                for connection in wait(waiting):
                    k = by_connection[id(connection)]
                    message = _receive(workers[k][0], connection)  # type: ignore[arg-type]
                    if message is None:
                        finished[k] = True
                    else:
                        pending[k].append(message)
            if not all(pending):
                if any(pending):
                    raise ReplayWorkerError("the replay's workers disagree on its batches")
                return
            chunks = [queue.popleft() for queue in pending]
            for steps in zip(*chunks, strict=True):
                reports = steps[0][0]
                lines, next_number = _renumber([parts for _, parts in steps], numbers, next_number)
                yield reports, lines


def _renumber(
    parts_by_worker: list[list[_Part]], numbers: list[dict[int, int]], next_number: int
) -> tuple[list[bytes], int]:
    """One step's events from every worker, in party order, as JSON lines numbered as
    one process numbers them; and the next number."""
    tagged = [(part, k) for k, parts in enumerate(parts_by_worker) for part in parts]
    # Each party is one worker's: a stable sort by party keeps each party's own order.
    tagged.sort(key=lambda item: item[0][0])
    # New alerts take numbers party by party, each party's in the order it raised them.
    opened = sorted((part[0], part[2], k) for part, k in tagged if part[1] == "open")
    for _, local, k in opened:
        numbers[k][local] = next_number
        next_number += 1
    lines = []
    for (_, kind, local, body), k in tagged:
        table = numbers[k]
        number = table.pop(local) if kind == "resolved" else table[local]
        lines.append(b'{"event":"%s","id":"a-%d",%s' % (kind.encode(), number, body[1:]))
    return lines, next_number


def _receive(process: Any, connection: Connection) -> list[_Step] | None:
    """A worker's next chunk of steps, None when it has finished."""
    try:
        message = pickle.loads(connection.recv_bytes())
    except (EOFError, OSError):
        process.join()
        raise ReplayWorkerError(
            f"replay worker {process.name} ended without finishing (exit code {process.exitcode})"
        ) from None
    kind, payload = message
    if kind == "steps":
        steps: list[_Step] = payload
        return steps
    if kind == "done":
        return None
    name, text, trace, refused = payload
    if refused:
        # what the engine refused is refused as it would be in one process
        raise EngineError(text)
    raise ReplayWorkerError(f"replay worker {process.name} failed: {name}: {text}\n{trace}")


def _work(loaded: LoadedScenario, parties: list[str], connection: Connection) -> None:
    """A worker: the replay's batches through an engine keeping only these parties."""
    # Ctrl-C reaches the whole process group: the parent stops the workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        engine = Engine.from_scenario(loaded.scenario, observers=parties)
        rank = {p.id: i for i, p in enumerate(loaded.scenario.parties)}
        chunk: list[_Step] = []
        reports = 0
        for batch in batches_by_time(loaded.reports):
            events = engine.ingest(batch)
            chunk.append((len(batch), [_part(event, rank) for event in events]))
            reports += len(batch)
            if reports >= CHUNK_REPORTS or len(chunk) >= CHUNK_STEPS:
                connection.send_bytes(pickle.dumps(("steps", chunk), pickle.HIGHEST_PROTOCOL))
                chunk, reports = [], 0
        if chunk:
            connection.send_bytes(pickle.dumps(("steps", chunk), pickle.HIGHEST_PROTOCOL))
        connection.send_bytes(pickle.dumps(("done", None)))
    except BaseException as error:  # reported to the parent, which raises it there
        refused = isinstance(error, EngineError | UnknownUnitError)
        failure = (type(error).__name__, str(error), traceback.format_exc(), refused)
        with contextlib.suppress(OSError):  # the parent has gone: nobody to tell
            connection.send_bytes(pickle.dumps(("error", failure)))
    finally:
        connection.close()


def _part(event: AlertEvent, rank: dict[str, int]) -> _Part:
    return (rank[event.party], event.event, int(event.id.removeprefix("a-")), event_body(event))
