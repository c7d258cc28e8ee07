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

from ..engine import Engine
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
    """A worker of a split replay vanished, or failed with an error that cannot travel
    to the parent; nothing more of the replay is written."""


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
        `Replay(loaded).json_steps()`, up to the error it would raise, then that error."""
        context = multiprocessing.get_context("fork")
        workers: list[tuple[Any, Connection]] = []
        # The loaded scenario is shared with the workers as it is. Frozen, the collector
        # of a worker leaves its objects (and their pages) alone; a program that froze
        # objects of its own is left as it was.
        freezing = gc.get_freeze_count() == 0
        if freezing:
            gc.freeze()
        try:
            for group in self.groups:
                receive, send = context.Pipe(duplex=False)
                # The worker closes the parent's ends it was forked with, so that the
                # parent's end is its pipe's only reader: a parent gone is a broken pipe.
                parents = [c for _, c in workers] + [receive]
                process = context.Process(
                    target=_work,
                    args=(self.loaded, group, send, parents),
                    name=f"replay-{'-'.join(group)}",
                    daemon=True,
                )
                process.start()
                send.close()
                workers.append((process, receive))
        finally:
            if freezing:
                gc.unfreeze()
        try:
            yield from _merged(workers)
        finally:
            for process, connection in workers:
                connection.close()
                if process.is_alive():
                    process.terminate()
                process.join()


MAX_HELD_STEPS = 4 * CHUNK_STEPS
MAX_HELD_REPORTS = 4 * CHUNK_REPORTS
"""How far ahead of the slowest worker the parent holds another's steps; beyond it, that
worker waits on its pipe."""


class _Feed:
    """One worker as the parent reads it: its steps not yet merged, and how it ended."""

    def __init__(self, process: Any, connection: Connection) -> None:
        self.process = process
        self.connection = connection
        self.steps: deque[_Step] = deque()
        self.reports = 0
        self.finished = False
        self.failure: BaseException | None = None

    @property
    def ended(self) -> bool:
        return self.finished or self.failure is not None

    @property
    def hungry(self) -> bool:
        """Whether to read from it now."""
        return not self.ended and (
            not self.steps or (len(self.steps) < MAX_HELD_STEPS and self.reports < MAX_HELD_REPORTS)
        )

    def read(self) -> None:
        try:
            kind, payload = pickle.loads(self.connection.recv_bytes())
        except (EOFError, OSError):
            self.process.join()
            raise ReplayWorkerError(
                f"replay worker {self.process.name} ended without finishing (exit code "
                f"{self.process.exitcode})"
            ) from None
        if kind == "steps":
            self.steps.extend(payload)
            self.reports += sum(reports for reports, _ in payload)
        elif kind == "done":
            self.finished = True
        else:
            self.failure = _failure(self.process.name, payload)

    def take(self) -> _Step:
        step = self.steps.popleft()
        self.reports -= step[0]
        return step


def _merged(workers: list[tuple[Any, Connection]]) -> Iterator[tuple[int, list[bytes]]]:
    """The workers' steps side by side, merged into the single process's lines."""
    feeds = [_Feed(process, connection) for process, connection in workers]
    numbers: list[dict[int, int]] = [{} for _ in feeds]
    next_number = 1
    by_connection = {id(feed.connection): feed for feed in feeds}
    while True:
        if all(feed.steps for feed in feeds):
            steps = [feed.take() for feed in feeds]
            lines, next_number = _renumber([parts for _, parts in steps], numbers, next_number)
            yield steps[0][0], lines
            continue
        # Some worker has no step waiting. Once each has this step or has ended: one
        # that failed here raises what one process raises here (the first party's
        # error first), and if all have finished, so has the replay.
        if all(feed.steps or feed.ended for feed in feeds):
            for feed in feeds:
                if not feed.steps and feed.failure is not None:
                    raise feed.failure
            if any(feed.steps for feed in feeds):
                raise ReplayWorkerError("the replay's workers disagree on its batches")
            return
        for connection in wait([f.connection for f in feeds if f.hungry]):
            by_connection[id(connection)].read()


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


def _failure(worker: str, payload: tuple[bytes | None, str, str, str]) -> BaseException:
    """A worker's error as the parent raises it: the same exception where it can travel."""
    blob, name, text, trace = payload
    if blob is not None:
        error: BaseException = pickle.loads(blob)
        error.add_note(f"raised in replay worker {worker}")
        return error
    return ReplayWorkerError(f"replay worker {worker} failed: {name}: {text}\n{trace}")


def _work(
    loaded: LoadedScenario,
    parties: list[str],
    connection: Connection,
    parents: list[Connection],
) -> None:
    """A worker: the replay's batches through an engine keeping only these parties."""
    for inherited in parents:
        inherited.close()
    # Ctrl-C reaches the whole process group: the parent stops the workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    chunk: list[_Step] = []
    try:
        engine = Engine.from_scenario(loaded.scenario, observers=parties)
        rank = {p.id: i for i, p in enumerate(loaded.scenario.parties)}
        reports = 0
        for batch in batches_by_time(loaded.reports):
            events = engine.ingest(batch)
            chunk.append((len(batch), [_part(event, rank) for event in events]))
            reports += len(batch)
            if reports >= CHUNK_REPORTS or len(chunk) >= CHUNK_STEPS:
                _send(connection, "steps", chunk)
                chunk, reports = [], 0
        if chunk:
            _send(connection, "steps", chunk)
        _send(connection, "done", None)
    except BrokenPipeError:
        pass  # the parent has gone, or stopped reading: nobody to tell
    except BaseException as error:  # reported to the parent, which raises it there
        with contextlib.suppress(OSError):
            # the steps before the failing one, as one process yields them
            if chunk:
                _send(connection, "steps", chunk)
            _send(
                connection,
                "error",
                (_portable(error), type(error).__name__, str(error), traceback.format_exc()),
            )
    finally:
        connection.close()


def _send(connection: Connection, kind: str, payload: object) -> None:
    connection.send_bytes(pickle.dumps((kind, payload), pickle.HIGHEST_PROTOCOL))


def _portable(error: BaseException) -> bytes | None:
    """The error pickled, if it comes back whole from its pickle."""
    try:
        blob = pickle.dumps(error, pickle.HIGHEST_PROTOCOL)
        back = pickle.loads(blob)
    except Exception:
        return None
    return blob if type(back) is type(error) and str(back) == str(error) else None


def _part(event: AlertEvent, rank: dict[str, int]) -> _Part:
    return (rank[event.party], event.event, int(event.id.removeprefix("a-")), event_body(event))
