"""Process-wide settings each entry point (the command line, the benchmarks) applies once."""

from __future__ import annotations

import contextlib
import gc
import os
import sys

COLLECTOR_GEN0 = 10_000


def tune_collector() -> None:
    """Run the cyclic collector's youngest generation less often than Python's default.

    The engine makes a few short-lived containers for every alert event; at the default
    threshold of 700 allocations the collector runs dozens of times per batch, and each
    run that reaches the oldest generation walks every alert the book holds. That was a
    tenth of a replay's time. A larger first threshold keeps the same collections, fewer
    of them; a threshold already set higher is left alone.
    """
    gen0, gen1, gen2 = gc.get_threshold()
    if 0 < gen0 < COLLECTOR_GEN0:
        gc.set_threshold(COLLECTOR_GEN0, gen1, gen2)


class _Exit:
    """Objects commands left to the process's end; None unless the entry point runs."""

    left: list[object] | None = None


def ending_at_exit() -> None:
    """Called by the entry point before its command: what the command leaves to the exit
    is kept for it (`leave_to_exit`), and `exit_now_if_left` then ends the process."""
    _Exit.left = []


def leave_to_exit(*objects: object) -> None:
    """Under the entry point, keep these objects until the process ends and let it end
    without freeing them; elsewhere, nothing.

    A replay of a million reports leaves some millions of objects behind; freeing them
    one by one took a twentieth of the command. The operating system takes the memory
    back at once. A command called in process (the tests, an embedding program) keeps
    nothing: its objects are freed when it lets go of them, as usual.
    """
    if _Exit.left is not None:
        _Exit.left.extend(objects)


def exit_now_if_left(code: object) -> None:
    """End the process with `sys.exit`'s meaning of `code`, its output flushed, if a
    command left objects to the exit; return otherwise."""
    if not _Exit.left:
        return
    status = 0
    if isinstance(code, int):
        status = code
    elif code is not None:
        print(code, file=sys.stderr)
        status = 1
    for stream in (sys.stdout, sys.stderr):
        # a closed pipe: nothing more can reach it
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(status)


__all__ = [
    "COLLECTOR_GEN0",
    "ending_at_exit",
    "exit_now_if_left",
    "leave_to_exit",
    "tune_collector",
]
